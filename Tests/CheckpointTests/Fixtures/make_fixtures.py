#!/usr/bin/env python3
"""Writes the safetensors fixtures of SafeTensorsTests with the reference implementation (Python
`safetensors`, through `safetensors.torch.save_file`):

    pip install --no-index --find-links /opt/wheels torch && pip install safetensors
    python3 make_fixtures.py

- dtypes.safetensors: one set of values stored as F32, F16, BF16 and F64, torch's own F16 -> F32 and
  BF16 -> F32 conversions of them (the expected reads), an I64 tensor, a scalar and an empty tensor.
  Mixed dtypes, so the reference orders the header by dtype alignment, not by name.
- reference_f32.safetensors, reference_bf16.safetensors: the same small tensors stored as F32 and as
  BF16, with metadata {"format": "pt"}; SafeTensorsWriter must reproduce both byte for byte.
- bf16_rounding.safetensors: `source` (F32: halfway cases, near-halfway cases, extremes, NaN,
  infinities, subnormals, random values) and `torch` (BF16: `source.to(torch.bfloat16)`, PyTorch's
  round-to-nearest-even), to check our F32 -> BF16 rounding bit for bit.
"""

import math
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def special_values() -> torch.Tensor:
    """37 values (more than two 16-lane blocks, with a tail) covering F16's normal, subnormal and
    overflowing ranges and BF16's edge cases."""
    values = [
        0.0, -0.0, 1.0, -1.5, math.pi, -math.e, 0.1, 1 / 3,
        65504.0, -65504.0, 70000.0,          # F16 max, and past it (F16 infinity)
        6.103515625e-05, 6.0e-05,             # F16 smallest normal, and a subnormal
        5.960464477539063e-08, -3.0e-07, 1.0e-06,  # F16 smallest subnormal, more subnormals
        1.0e-09,                              # underflows to F16 zero
        3.0e38, -3.3895313892515355e38,       # near the F32 / BF16 maximum
        1.0e-40, -1.0e-45,                    # F32 subnormals
        float("inf"), float("-inf"), float("nan"),
        1.00390625, 1.01171875, 255.5, -0.33203125,
        12345.678, -0.000123, 2.0 ** -14, 2.0 ** -24, 7.0, -8.25, 1024.0, 0.999, -1.0e-3,
    ]
    assert len(values) == 37
    return torch.tensor(values, dtype=torch.float32)


def main() -> None:
    values = special_values()
    f16 = values.to(torch.float16)
    bf16 = values.to(torch.bfloat16)
    save_file({
        "f32": values,
        "f16": f16,
        "bf16": bf16,
        "f64": values.to(torch.float64),
        "f16_as_f32": f16.to(torch.float32),
        "bf16_as_f32": bf16.to(torch.float32),
        "matrix_bf16": torch.arange(-24, 24, dtype=torch.float32).div(8).reshape(3, 16).to(torch.bfloat16),
        "i64": torch.tensor([1, -2, 3], dtype=torch.int64),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }, os.path.join(HERE, "dtypes.safetensors"), metadata={"format": "pt", "source": "make_fixtures.py"})

    generator = torch.Generator().manual_seed(7)
    small = {
        "b": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.37 - 1.0,
        "a.weight": torch.randn(4, 5, generator=generator),
        "c": torch.tensor(-3.25, dtype=torch.float32),
        "z": torch.zeros(0, 2, dtype=torch.float32),
        "v": torch.randn(37, generator=generator) * 100,
    }
    save_file(small, os.path.join(HERE, "reference_f32.safetensors"), metadata={"format": "pt"})
    save_file({k: v.to(torch.bfloat16) for k, v in small.items()},
              os.path.join(HERE, "reference_bf16.safetensors"), metadata={"format": "pt"})

    # BF16 rounding: for random bit patterns b (exponents spread widely), b itself, b with the low 16
    # bits set to exactly halfway (0x8000), and just below/above halfway.
    random_bits = torch.randint(0, 2 ** 31 - 1, (512,), generator=generator, dtype=torch.int64)
    random_bits = (random_bits % (0xFF << 23)) | (torch.randint(0, 2, (512,), generator=generator) << 31)
    halfway = (random_bits & ~0xFFFF) | 0x8000
    cases = torch.cat([random_bits, halfway, halfway - 1, halfway + 1,
                       torch.tensor([0x3F808000, 0x3F818000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000, 0x00008000,
                                     0x80018000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFFFFFFF,
                                     0x00000000, 0x80000000])])
    source = (cases & 0xFFFFFFFF).to(torch.int64)
    source = torch.where(source >= 2 ** 31, source - 2 ** 32, source).to(torch.int32).view(torch.float32)
    save_file({"source": source, "torch": source.to(torch.bfloat16)},
              os.path.join(HERE, "bf16_rounding.safetensors"), metadata={"format": "pt"})


if __name__ == "__main__":
    main()

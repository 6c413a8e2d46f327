import Foundation
import XCTest
@testable import Training

/// The run configuration: defaults, a full file, `--set` overrides of every type, every kind of error
/// with the facts its message must carry, the `yaml()` round trip, and the shipped `Configs/*.yaml`.
final class RunConfigTests: XCTestCase {
    /// The repository root, found from this file.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized

    /// The error `body` throws, failing the test when it throws none or another type.
    func error(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> RunConfigError? {
        do {
            _ = try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as RunConfigError {
            XCTAssertFalse(error.description.contains("\n"), "not one line: \(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
        return nil
    }

    /// Asserts the error's description contains each of `parts`.
    func assertMentions(_ error: RunConfigError?, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        let text = error?.description ?? ""
        for part in parts { XCTAssertTrue(text.contains(part), "'\(part)' missing from: \(text)", file: file, line: line) }
    }

    func assertMentions(_ error: RunConfigError?, _ parts: String..., file: StaticString = #filePath, line: UInt = #line) {
        assertMentions(error, parts, file: file, line: line)
    }

    let minimal = "data: {train: d.jsonl}\n"

    // MARK: Values

    func testDefaults() throws {
        let config = try RunConfig.parse(yaml: minimal)
        XCTAssertEqual(config, RunConfig(data: .init(train: "d.jsonl")))
        XCTAssertEqual(config.run, .init(dir: "runs/default", seed: 1234, name: nil))
        XCTAssertEqual(config.model, .init(preset: "tiny", path: nil, initFrom: nil))
        XCTAssertEqual(config.tokenizer.path, "Configs/tokenizer/demo.model")
        XCTAssertEqual(config.data, .init(train: "d.jsonl", eval: nil, format: .text, seqLen: 256, packing: true,
                                          skipBadRows: false, overlong: .truncate))
        XCTAssertEqual(config.train, .init(steps: 500, batchSize: 16, microBatchSize: 4, lr: 3.0e-4, minLrRatio: 0.1,
                                           schedule: .cosine, warmupSteps: 20, weightDecay: 0.01,
                                           decayNormsAndEmbeddings: false, beta1: 0.9, beta2: 0.95, eps: 1.0e-8,
                                           gradClip: 1.0, evalEvery: 0, evalBatches: 0, nanPolicy: .abort))
        XCTAssertEqual(config.checkpoint, .init(every: 100, keep: 3, resume: nil))
        XCTAssertEqual(config.log, .init(every: 1, tensorboard: true))
        XCTAssertEqual(config.mesh, .init(data: 1, model: 1))
        XCTAssertEqual(config.reward, .init(margin: 0, centerCoef: 0))
        XCTAssertEqual(config.runName, "default")
        // Empty sections and comments are fine.
        XCTAssertEqual(try RunConfig.parse(yaml: "# comment\nrun:\ntrain: ~\n" + minimal), config)
    }

    static let fullYAML = """
    run:
      dir: runs/full   # trailing comment
      seed: 7
      name: "full run"
    model:
      preset: null
      path: Configs/models/bench.json
      init: runs/pretrain/ckpt-00000300.h5
    tokenizer:
      path: null
    data:
      train: Configs/data/sft.jsonl
      eval: 'Configs/data/sft-eval.jsonl'
      format: chat
      seq_len: 128
      packing: false
      skip_bad_rows: true
      overlong: drop
    train:
      steps: 1_000
      batch_size: 32
      micro_batch_size: 8
      lr: 1e-3
      min_lr_ratio: 0
      schedule: linear
      warmup_steps: 0
      weight_decay: 0.1
      decay_norms_and_embeddings: True
      beta1: 0.8
      beta2: 0.999
      eps: 1.0e-6
      grad_clip: 0.0
      eval_every: 50
      eval_batches: 4
      nan_policy: skip
    checkpoint: {every: 0, keep: 0, resume: auto}
    log: {every: 10, tensorboard: false}
    mesh: {data: 2, model: 2}
    reward: {margin: 0.5, center_coef: 0.01}
    """

    static let full = RunConfig(
        run: .init(dir: "runs/full", seed: 7, name: "full run"),
        model: .init(preset: nil, path: "Configs/models/bench.json", initFrom: "runs/pretrain/ckpt-00000300.h5"),
        tokenizer: .init(path: nil),
        data: .init(train: "Configs/data/sft.jsonl", eval: "Configs/data/sft-eval.jsonl", format: .chat, seqLen: 128,
                    packing: false, skipBadRows: true, overlong: .drop),
        train: .init(steps: 1000, batchSize: 32, microBatchSize: 8, lr: 1e-3, minLrRatio: 0, schedule: .linear,
                     warmupSteps: 0, weightDecay: 0.1, decayNormsAndEmbeddings: true, beta1: 0.8, beta2: 0.999,
                     eps: 1e-6, gradClip: 0, evalEvery: 50, evalBatches: 4, nanPolicy: .skip),
        checkpoint: .init(every: 0, keep: 0, resume: "auto"),
        log: .init(every: 10, tensorboard: false),
        mesh: .init(data: 2, model: 2),
        reward: .init(margin: 0.5, centerCoef: 0.01))

    func testFullFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("runconfig-full-\(getpid()).yaml")
        try Self.fullYAML.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertEqual(try RunConfig.load(path: url.path), Self.full)
        XCTAssertEqual(Self.full.runName, "full run")
    }

    func testOverridesOfEachType() throws {
        let config = try RunConfig.parse(yaml: minimal + "run: {name: file}\ntrain: {steps: 10}\n", overrides: [
            "train.steps=300",               // Int, replacing the file's value
            "train.lr=2.5e-3",               // Double in exponent form
            "train.weight_decay=0",          // Double written as an integer
            "data.packing=false",            // Bool
            "run.dir=runs/x y",              // String with a space
            "run.name=null",                 // null for an optional
            "data.eval=\"null\"",            // quoted: the string, not null
            "data.format=preference",        // enum choice
            "model.init=ckpt.h5",
            "mesh.data=2",
            "train.micro_batch_size=8",
            "train.nan_policy=skip",
        ])
        XCTAssertEqual(config.train.steps, 300)
        XCTAssertEqual(config.train.lr, 2.5e-3)
        XCTAssertEqual(config.train.weightDecay, 0)
        XCTAssertFalse(config.data.packing)
        XCTAssertEqual(config.run.dir, "runs/x y")
        XCTAssertNil(config.run.name)
        XCTAssertEqual(config.data.eval, "null")
        XCTAssertEqual(config.data.format, .preference)
        XCTAssertEqual(config.model.initFrom, "ckpt.h5")
        XCTAssertNil(config.model.preset, "init gives the architecture, so the default preset steps aside")
        XCTAssertEqual(config.mesh.data, 2)
        XCTAssertEqual(config.train.microBatchSize, 8)
        XCTAssertEqual(config.train.nanPolicy, .skip)
        XCTAssertEqual(config.run.name, nil)
    }

    /// `model.preset` defaults to tiny only when neither `path` nor `init` gives the architecture; an
    /// explicit preset stays (a preset with init is a consistency check for the trainer).
    func testPresetDefaultYieldsToPathOrInit() throws {
        XCTAssertNil(try RunConfig.parse(yaml: minimal + "model: {path: Configs/models/tiny.json}").model.preset)
        XCTAssertNil(try RunConfig.parse(yaml: minimal, overrides: ["model.init=x.h5"]).model.preset)
        XCTAssertEqual(try RunConfig.parse(yaml: minimal + "model: {preset: bench, init: x.h5}").model.preset, "bench")
        XCTAssertEqual(try RunConfig.parse(yaml: minimal, overrides: ["model.init=x.h5", "model.init=null"]).model.preset,
                       "tiny")
    }

    func testRunNameFromDirectory() throws {
        XCTAssertEqual(try RunConfig.parse(yaml: minimal, overrides: ["run.dir=runs/sft-tiny/"]).runName, "sft-tiny")
    }

    // MARK: Errors

    func testUnknownKeyNamesPathAndValidKeys() {
        let inFile = error { try RunConfig.parse(yaml: minimal + "train:\n  steps: 3\n  lrate: 0.1\n", file: "c.yaml") }
        XCTAssertEqual(inFile?.kind, .unknownKey)
        XCTAssertEqual(inFile?.key, "train.lrate")
        assertMentions(inFile, "c.yaml:4", "train.lrate", "unknown key", "steps, batch_size, micro_batch_size, lr,",
                       "nan_policy")
        let suggested = error { try RunConfig.parse(yaml: minimal, overrides: ["train.warmup=5"]) }
        assertMentions(suggested, "--set train.warmup=5", "train.warmup", "did you mean 'train.warmup_steps'?", "eval_every")
        let section = error { try RunConfig.parse(yaml: minimal + "optim: {lr: 1}", file: "c.yaml") }
        XCTAssertEqual(section?.kind, .unknownKey)
        assertMentions(section, "c.yaml:2", "optim", "unknown section",
                       "run, model, tokenizer, data, train, checkpoint, log, mesh, reward")
        assertMentions(error { try RunConfig.parse(yaml: minimal, overrides: ["trian.lr=1"]) },
                       "trian", "did you mean 'train'?", "valid sections")
        assertMentions(error { try RunConfig.parse(yaml: minimal, overrides: ["train.lr.x=1"]) },
                       "train.lr.x", "unknown key", "valid keys of train")
    }

    func testWrongTypeNamesKeyExpectedTypeAndValue() {
        let cases: [(yaml: String, overrides: [String], parts: [String])] = [
            ("train: {steps: many}", [], ["c.yaml:2", "train.steps", "expected an integer", "'many'"]),
            ("train: {steps: 1.5}", [], ["train.steps", "expected an integer", "'1.5'"]),
            ("train: {steps: '500'}", [], ["train.steps", "expected an integer", "'500'"]),
            ("train: {steps: [1, 2]}", [], ["train.steps", "expected an integer", "a list"]),
            ("", ["train.lr=fast"], ["--set train.lr=fast", "train.lr", "expected a number", "'fast'"]),
            ("", ["train.lr=nan"], ["train.lr", "expected a number", "'nan'"]),
            ("", ["data.packing=yes"], ["data.packing", "expected true or false", "'yes'"]),
            ("", ["run.seed=null"], ["run.seed", "expected an integer", "null"]),
            ("", ["run.dir=null"], ["run.dir", "expected a string", "null"]),
            ("", ["data.eval=3"], []),  // a number is a fine path string
            ("train: 5", [], ["c.yaml:2", "train", "expected a mapping of keys", "'5'"]),
            ("- a\n- b", [], ["expected a mapping of sections", "a list"]),
        ]
        for c in cases {
            let yaml = c.yaml.hasPrefix("-") ? c.yaml : minimal + c.yaml
            if c.parts.isEmpty {
                XCTAssertNoThrow(try RunConfig.parse(yaml: yaml, file: "c.yaml", overrides: c.overrides))
                continue
            }
            let e = error { try RunConfig.parse(yaml: yaml, file: "c.yaml", overrides: c.overrides) }
            XCTAssertEqual(e?.kind, .wrongType, "\(c)")
            assertMentions(e, c.parts)
        }
    }

    func testInvalidChoiceListsChoices() {
        let schedule = error { try RunConfig.parse(yaml: minimal + "train: {schedule: cos}", file: "c.yaml") }
        XCTAssertEqual(schedule?.kind, .invalidChoice)
        assertMentions(schedule, "c.yaml:2", "train.schedule", "'cos'", "cosine, linear, constant")
        assertMentions(error { try RunConfig.parse(yaml: minimal, overrides: ["data.format=dialogue"]) },
                       "data.format", "'dialogue'", "text, chat, preference")
        assertMentions(error { try RunConfig.parse(yaml: minimal, overrides: ["data.overlong=split"]) },
                       "data.overlong", "truncate, drop")
        assertMentions(error { try RunConfig.parse(yaml: minimal, overrides: ["train.nan_policy=ignore"]) },
                       "train.nan_policy", "abort, skip")
        let preset = error { try RunConfig.parse(yaml: minimal + "model: {preset: gemma-3b}", file: "c.yaml") }
        XCTAssertEqual(preset?.kind, .invalidChoice)
        assertMentions(preset, "c.yaml:2", "model.preset", "'gemma-3b'", "bench, gemma-2b, gemma-7b, tiny")
    }

    func testSyntaxErrorNamesFileAndLine() throws {
        let e = error { try RunConfig.parse(yaml: "data:\n  train: a\n  eval: [b\n", file: "Configs/bad.yaml") }
        XCTAssertEqual(e?.kind, .syntax)
        assertMentions(e, "Configs/bad.yaml:4", "YAML syntax error")
        let tab = error { try RunConfig.parse(yaml: "data:\n\ttrain: a\n", file: "Configs/tab.yaml") }
        assertMentions(tab, "Configs/tab.yaml:2", "YAML syntax error")
        let duplicate = error { try RunConfig.parse(yaml: minimal + "train:\n  lr: 1\n  lr: 2\n", file: "d.yaml") }
        assertMentions(duplicate, "d.yaml:3", "duplicate key 'lr'")
        // Through load(path:), from a real file.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("runconfig-bad-\(getpid()).yaml")
        try "run: {dir: x\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        assertMentions(error { try RunConfig.load(path: url.path) }, url.path + ":", "YAML syntax error")
    }

    func testUnreadableFileAndMissingKey() {
        let missing = error { try RunConfig.load(path: "/nonexistent/run.yaml") }
        XCTAssertEqual(missing?.kind, .unreadableFile)
        assertMentions(missing, "/nonexistent/run.yaml", "no such file")
        assertMentions(error { try RunConfig.load(path: NSTemporaryDirectory()) }, "is a directory")
        let noTrain = error { try RunConfig.parse(yaml: "train: {steps: 3}", file: "c.yaml") }
        XCTAssertEqual(noTrain?.kind, .missingKey)
        assertMentions(noTrain, "c.yaml", "data.train", "required")
    }

    func testBadOverrideSyntax() {
        let noEquals = error { try RunConfig.parse(yaml: minimal, overrides: ["train.lr"]) }
        XCTAssertEqual(noEquals?.kind, .badOverride)
        assertMentions(noEquals, "--set train.lr", "section.key=value")
        assertMentions(error { try RunConfig.parse(yaml: minimal, overrides: ["train=3"]) },
                       "section.key=value", "keys of train: steps")
    }

    /// Each rule's error names its key and where the value was set.
    func testValidationNamesTheKey() {
        let cases: [([String], String)] = [
            (["train.steps=0"], "train.steps"),
            (["train.batch_size=0"], "train.batch_size"),
            (["train.micro_batch_size=0"], "train.micro_batch_size"),
            (["train.micro_batch_size=4", "train.batch_size=10"], "train.batch_size"),
            (["train.lr=0"], "train.lr"),
            (["train.lr=.inf"], "train.lr"),
            (["train.min_lr_ratio=1.5"], "train.min_lr_ratio"),
            (["train.warmup_steps=-1"], "train.warmup_steps"),
            (["train.steps=10", "train.warmup_steps=11"], "train.warmup_steps"),
            (["train.weight_decay=-0.1"], "train.weight_decay"),
            (["train.beta1=1"], "train.beta1"),
            (["train.beta2=-0.5"], "train.beta2"),
            (["train.eps=0"], "train.eps"),
            (["train.grad_clip=-1"], "train.grad_clip"),
            (["train.eval_every=-1"], "train.eval_every"),
            (["train.eval_every=10"], "train.eval_every"),  // no data.eval
            (["train.eval_batches=-2"], "train.eval_batches"),
            (["data.seq_len=1"], "data.seq_len"),
            (["data.seq_len=1024"], "data.seq_len"),  // over tiny's 512 positions
            (["data.train="], "data.train"),
            (["data.eval=''"], "data.eval"),
            (["run.dir=''"], "run.dir"),
            (["run.seed=-1"], "run.seed"),
            (["model.preset=tiny", "model.path=Configs/models/tiny.json"], "model.path"),
            (["model.preset=null"], "model.preset"),
            (["tokenizer.path=null"], "tokenizer.path"),
            (["model.path=x/config.json", "tokenizer.path=null"], "tokenizer.path"),
            (["checkpoint.every=-1"], "checkpoint.every"),
            (["checkpoint.keep=-1"], "checkpoint.keep"),
            (["log.every=0"], "log.every"),
            (["mesh.data=0"], "mesh.data"),
            (["mesh.model=0"], "mesh.model"),
            (["reward.margin=-1"], "reward.margin"),
            (["reward.center_coef=-0.1"], "reward.center_coef"),
            (["train.max_skipped_steps=0"], "train.max_skipped_steps"),
        ]
        for (overrides, key) in cases {
            let e = error { try RunConfig.parse(yaml: minimal, overrides: overrides) }
            XCTAssertEqual(e?.key, key, "\(overrides): \(e.map { "\($0)" } ?? "")")
            assertMentions(e, key + ":", "--set " + overrides.last!)
        }
        // A rule broken by a file value points at its line.
        assertMentions(error { try RunConfig.parse(yaml: minimal + "train:\n  lr: 0\n", file: "c.yaml") },
                       "c.yaml:3: train.lr: must be a finite number > 0")
        // Non-finite numbers (YAML's .inf and .nan) are named as such.
        for (override, key) in [("train.lr=.inf", "train.lr"), ("train.lr=.nan", "train.lr"), ("train.eps=.inf", "train.eps"),
                                ("train.grad_clip=.inf", "train.grad_clip"), ("reward.margin=.nan", "reward.margin"),
                                ("train.weight_decay=-.inf", "train.weight_decay")] {
            assertMentions(error { try RunConfig.parse(yaml: minimal, overrides: [override]) }, key + ": must be a finite number")
        }
        // Valid combinations.
        XCTAssertNoThrow(try RunConfig.parse(yaml: minimal, overrides: ["tokenizer.path=null", "model.init=x.h5"]))
        XCTAssertNoThrow(try RunConfig.parse(yaml: minimal, overrides: ["train.warmup_steps=500", "train.grad_clip=0"]))
    }

    func testAccumulationSteps() throws {
        var config = RunConfig(data: .init(train: "d.jsonl"))
        config.train.batchSize = 16
        config.train.microBatchSize = 4
        XCTAssertEqual(try config.accumulationSteps(dataParallel: 1), 4)
        XCTAssertEqual(try config.accumulationSteps(dataParallel: 2), 2)
        XCTAssertEqual(try config.accumulationSteps(dataParallel: 4), 1)
        let e = error { try config.accumulationSteps(dataParallel: 3) }
        assertMentions(e, "train.batch_size", "16", "micro_batch_size x data-parallel size = 12", "12 or 24", "3 data ranks")
        assertMentions(error { try config.accumulationSteps(dataParallel: 8) }, "= 32", "(e.g. 32)")
        assertMentions(error { try config.accumulationSteps(dataParallel: 0) }, "mesh.data")
    }

    func testMeshOverrides() throws {
        XCTAssertEqual(try RunConfig.meshOverrides("data=2,model=4"), ["mesh.data=2", "mesh.model=4"])
        XCTAssertEqual(try RunConfig.meshOverrides("model=2"), ["mesh.model=2"])
        let config = try RunConfig.parse(yaml: minimal, overrides: try RunConfig.meshOverrides("data=2,model=2"))
        XCTAssertEqual(config.mesh, .init(data: 2, model: 2))
        assertMentions(error { try RunConfig.meshOverrides("data:2") }, "--mesh data:2", "data=D,model=M")
        assertMentions(error { try RunConfig.parse(yaml: minimal, overrides: try RunConfig.meshOverrides("data=x")) },
                       "mesh.data", "expected an integer", "'x'")
    }

    // MARK: Writing

    func testYAMLRoundTrip() throws {
        var awkward = Self.full
        awkward.run.name = "123"
        awkward.run.dir = "runs/a: b # not a comment"
        awkward.data.train = "true"
        awkward.data.eval = "null"
        awkward.checkpoint.resume = " 'quoted' \"and\" \\ back\nslash\tü"
        awkward.model.path = "-x"
        awkward.train.lr = 3e-4
        awkward.train.eps = 1e-8
        awkward.train.beta2 = 0.1 + 0.2  // needs 17 digits
        awkward.reward.margin = 1e20
        for config in [RunConfig(data: .init(train: "d.jsonl")), Self.full, awkward] {
            let text = config.yaml()
            XCTAssertEqual(try RunConfig.parse(yaml: text, file: "config.yaml"), config, text)
        }
        let text = RunConfig(data: .init(train: "d.jsonl")).yaml()
        for line in ["run:\n  dir: runs/default\n  seed: 1234\n  name: null\n", "  lr: 0.0003\n", "  eps: 1.0e-08\n",
                     "  init: null\n", "  schedule: cosine\n", "  packing: true\n",
                     "reward:\n  margin: 0.0\n  center_coef: 0.0\n"] {
            XCTAssertTrue(text.contains(line), "missing \(line) in\n\(text)")
        }
        XCTAssertTrue(awkward.yaml().contains("  name: \"123\"\n"))
        XCTAssertTrue(awkward.yaml().contains("  margin: 1.0e+20\n"))
        // Every key is written.
        let keys = RunConfig.schema.reduce(0) { $0 + $1.fields.count }
        XCTAssertEqual(text.split(separator: "\n").filter { $0.hasPrefix("  ") }.count, keys)
    }

    func testCodableRoundTrip() throws {
        let data = try JSONEncoder().encode(Self.full)
        XCTAssertEqual(try JSONDecoder().decode(RunConfig.self, from: data), Self.full)
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\"micro_batch_size\":8"))
    }

    // MARK: Shipped files

    /// Every run config in `Configs/` loads and names its own run directory, `runs/<file name>`.
    func testShippedConfigsLoad() throws {
        let configs = Self.root.appendingPathComponent("Configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: configs.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertTrue(Set(files).isSuperset(of: ["pretrain-tiny.yaml", "sft-tiny.yaml", "reward-tiny.yaml", "bench.yaml"]),
                      "\(files)")
        for file in files {
            let config = try RunConfig.load(path: configs.appendingPathComponent(file).path)
            XCTAssertEqual(config.run.dir, "runs/" + file.dropLast(".yaml".count), file)
            XCTAssertNoThrow(try config.accumulationSteps(dataParallel: config.mesh.data), file)
        }
    }

    /// Docs/RunConfig.md carries the reference table the schema generates.
    func testReferenceTableIsDocumented() throws {
        let doc = try String(contentsOf: Self.root.appendingPathComponent("Docs/RunConfig.md"), encoding: .utf8)
        XCTAssertTrue(doc.contains(RunConfig.referenceTable), "regenerate the table:\n\(RunConfig.referenceTable)")
    }
}

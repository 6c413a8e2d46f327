import Foundation

/// The machine a figure belongs to, as JSON fields: the CPU model (`model name` of /proc/cpuinfo),
/// whether it has AVX-512 (`avx512f`), the core count and `OPENBLAS_CORETYPE`.
func machineFields() -> [(String, JSONValue)] {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let lines = cpuinfo.split(separator: "\n")
    func value(_ key: String) -> String? {
        lines.first { $0.hasPrefix(key) }.flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }
    return [
        ("cpu", .string(value("model name") ?? "unknown")),
        ("avx512", .bool(value("flags")?.split(separator: " ").contains("avx512f") ?? false)),
        ("cores", .int(ProcessInfo.processInfo.activeProcessorCount)),
        ("openblas_coretype", .string(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset")),
    ]
}

/// User plus system CPU seconds of this process so far (all threads): on a shared machine the per-core
/// figure that other processes' load does not change.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let seconds = { (t: timeval) in Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

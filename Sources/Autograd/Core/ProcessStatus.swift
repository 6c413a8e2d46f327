import Foundation

/// A memory field of `/proc/self/status` (`VmRSS`, `VmHWM`, ...) in bytes; 0 when unreadable. The
/// kernel writes `VmHWM:\t 878000 kB`, with no space after the tab once the number has 8 digits.
public func processStatusBytes(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
          let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int($0) }) else { return 0 }
    return kb * 1024
}

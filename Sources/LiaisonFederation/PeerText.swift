/// Text a peer supplied (an error detail, a refusal reason), made safe to
/// store and show: control characters replaced, at most `max` bytes.
enum PeerText {
    static func clean(_ s: some StringProtocol, max: Int = 1024) -> String {
        var out = String(s.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
        if out.utf8.count > max {
            var kept = ""
            for c in out {
                if kept.utf8.count + c.utf8.count > max { break }
                kept.append(c)
            }
            out = kept + "…"
        }
        return out.isEmpty ? "(empty)" : out
    }
}

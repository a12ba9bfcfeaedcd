/// A document's text and the name to report problems against (its path).
public struct SourceText: Sendable, Hashable {
    public var name: String
    public var text: String
    public init(name: String, text: String) {
        self.name = name
        self.text = text
    }
}

/// Identifiers of agreements, statements, purposes: lower-case ASCII
/// letters, digits and hyphens, starting with a letter or digit, at most 64.
public enum Identifier {
    public static func isValid(_ s: String) -> Bool {
        guard let first = s.utf8.first, s.utf8.count <= 64 else { return false }
        func ok(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        return ok(first) && s.utf8.allSatisfy { ok($0) || $0 == 0x2D }
    }
    public static let rule = "lower-case letters, digits and hyphens, at most 64, e.g. gsomia-kor-jpn-2016"
}

/// A party to an agreement: a government, named by its ISO 3166-1 alpha-3
/// code (`KOR`, `JPN`, `USA`). One node serves each party.
public struct Party: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The three upper-case ASCII letters of the ISO 3166-1 alpha-3 code.
    public let code: String

    /// Accepts exactly three upper-case ASCII letters; anything else is `nil`.
    public init?(_ code: String) {
        guard code.utf8.count == 3, code.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else { return nil }
        self.code = code
    }

    public var description: String { code }
    public static func < (a: Party, b: Party) -> Bool { a.code < b.code }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let party = Party(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an ISO 3166-1 alpha-3 code: \(text)"))
        }
        self = party
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(code)
    }

    public static let kor = Party("KOR")!
    public static let jpn = Party("JPN")!
    public static let usa = Party("USA")!
}

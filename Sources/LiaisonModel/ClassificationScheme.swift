/// One classification level of a party's national scheme (Art 4).
public struct Level: Hashable, Sendable, Codable {
    /// The stable code files and tools use (`II`, `GOKUHI`, `S`).
    public var code: String
    /// The national marking in its own script (`군사II급비밀`, `極秘`).
    public var marking: String
    /// The marking in Latin letters (`Gunsa Igeup Bimil`, `Gokuhi`).
    public var romanization: String
    /// An English gloss (`SECRET`).
    public var gloss: String
    /// Position in the order of the scheme: higher is more sensitive. Levels
    /// on the same tier (`GOKUHI` and `TOKUTEI`) share a rank.
    public var rank: Int

    public init(code: String, marking: String, romanization: String, gloss: String, rank: Int) {
        self.code = code
        self.marking = marking
        self.romanization = romanization
        self.gloss = gloss
        self.rank = rank
    }
}

/// A party's national classification scheme: its levels, ordered.
public struct ClassificationScheme: Hashable, Sendable, Codable {
    public var party: Party
    public var name: String
    /// Levels from the most to the least sensitive.
    public private(set) var levels: [Level]

    /// Builds a scheme; levels must be listed from the most sensitive down,
    /// with unique codes and non-increasing ranks.
    public init(party: Party, name: String, levels: [Level]) throws(ModelError) {
        var seen = Set<String>()
        for (i, level) in levels.enumerated() {
            guard !level.code.isEmpty else { throw ModelError(.invalidScheme, "level \(i + 1) of \(party) has an empty code") }
            guard seen.insert(level.code).inserted else {
                throw ModelError(.invalidScheme, "level \(level.code) appears twice in the scheme of \(party)")
            }
            if i > 0, level.rank > levels[i - 1].rank {
                throw ModelError(.invalidScheme, "level \(level.code) of \(party) is listed below a less sensitive level")
            }
        }
        guard !levels.isEmpty else { throw ModelError(.invalidScheme, "the scheme of \(party) has no levels") }
        self.party = party
        self.name = name
        self.levels = levels
    }

    /// The level with `code`, if the scheme has one.
    public func level(_ code: String) -> Level? { levels.first { $0.code == code } }

    /// Whether `a` is at least as sensitive as `b`; `nil` if either code is unknown.
    public func dominates(_ a: String, _ b: String) -> Bool? {
        guard let la = level(a), let lb = level(b) else { return nil }
        return la.rank >= lb.rank
    }
}

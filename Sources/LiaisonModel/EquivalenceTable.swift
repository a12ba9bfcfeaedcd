/// Art 4: the table of equivalent levels. Each row names, for every party,
/// the levels of its scheme that are equivalent; rows run from the most
/// sensitive tier down. A level without a row cannot be exchanged under the
/// agreement at all (TOP SECRET under the 2016 Korea–Japan GSOMIA).
public struct EquivalenceTable: Hashable, Sendable {
    public struct Row: Hashable, Sendable {
        /// The common English name of the tier (`SECRET`).
        public var tier: String
        /// Level codes per party; the first is the marking a receiver applies
        /// by default (`GOKUHI` rather than `TOKUTEI`).
        public var levels: [Party: [String]]
        public init(tier: String, levels: [Party: [String]]) {
            self.tier = tier
            self.levels = levels
        }
    }

    public var rows: [Row]
    public init(rows: [Row]) { self.rows = rows }

    /// The row covering `code` of `party`'s scheme, if any.
    public func row(for party: Party, level code: String) -> Row? {
        rows.first { $0.levels[party]?.contains(code) == true }
    }

    /// The levels of `receiver` equivalent to `code` of `originator`, the
    /// default first; empty when no row maps the level to the receiver.
    public func equivalents(of code: String, from originator: Party, to receiver: Party) -> [String] {
        if originator == receiver { return [code] }
        return row(for: originator, level: code)?.levels[receiver] ?? []
    }
}

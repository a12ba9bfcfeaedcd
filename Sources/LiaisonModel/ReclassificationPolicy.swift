/// A party currently holding an item, and the agreement it holds it under.
public struct Holding: Hashable, Sendable {
    public var party: Party
    public var agreement: Agreement
    public init(party: Party, agreement: Agreement) {
        self.party = party
        self.agreement = agreement
    }
}

/// A request to change an item's level (Art 6(g)).
public struct ReclassificationRequest: Hashable, Sendable {
    public var item: ItemFacts
    /// The party asking.
    public var by: Party
    public var newLevel: String
    public var originatorScheme: ClassificationScheme
    /// Every other party holding the item.
    public var holdings: [Holding]

    public init(item: ItemFacts, by: Party, newLevel: String, originatorScheme: ClassificationScheme, holdings: [Holding]) {
        self.item = item
        self.by = by
        self.newLevel = newLevel
        self.originatorScheme = originatorScheme
        self.holdings = holdings
    }
}

/// Art 6(g): only the originator changes a level, and never to a level
/// that some current holder's agreement has no equivalence row for — the
/// holder could not re-mark it.
public enum ReclassificationPolicy {
    public static func evaluate(_ r: ReclassificationRequest) -> Decision {
        let label = r.item.label
        guard r.by == label.originator else {
            return .refuse(.notOriginator, .reclassification, "only the originator \(label.originator) may reclassify; \(r.by) may not")
        }
        guard r.originatorScheme.party == label.originator, let level = r.originatorScheme.level(r.newLevel) else {
            return .refuse(.unknownLevel, .reclassification, "\(r.newLevel) is not a level of \(label.originator)'s scheme")
        }
        guard r.newLevel != label.level else {
            return .refuse(.unchangedLevel, .reclassification, "the item is already at \(level.marking)")
        }
        for h in r.holdings where h.party != label.originator {
            if case .failure = DualMarking.make(
                agreement: h.agreement, originator: label.originator, level: r.newLevel, receiver: h.party)
            {
                return .refuse(
                    .noEquivalence, .equivalence,
                    "\(h.party) holds the item under \(h.agreement.id), which has no equivalent of \(level.marking) (\(level.gloss)); it cannot be re-marked there")
            }
        }
        return .permitted
    }
}

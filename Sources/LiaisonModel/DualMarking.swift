/// Art 4: the receiver marks each item with the originator's name and
/// marking *and* its own equivalent marking.
public struct DualMarking: Hashable, Sendable, CustomStringConvertible {
    public var agreement: Agreement.ID
    public var tier: String
    public var originator: Party
    public var originatorLevel: Level
    public var receiver: Party
    /// The marking the receiver applies (the first of the row).
    public var receiverLevel: Level
    /// Other receiver levels on the same row (`TOKUTEI` beside `GOKUHI`).
    public var alternatives: [Level]

    public var description: String {
        "\(originator) \(originatorLevel.marking) (\(originatorLevel.romanization)) ⇄ \(receiver) \(receiverLevel.marking) (\(receiverLevel.romanization)) — \(tier)"
    }

    /// The dual marking of `level` (originator's scheme) for `receiver` under
    /// `agreement`, or the refusal that names why there is none.
    public static func make(
        agreement: Agreement, originator: Party, level: String, receiver: Party
    ) -> Result<DualMarking, Refusal> {
        for p in [originator, receiver] where !agreement.isParty(p) {
            return .failure(Refusal(.notAParty, .parties, "\(p) is not a party to \(agreement.id)"))
        }
        guard let oScheme = agreement.scheme(of: originator), let oLevel = oScheme.level(level) else {
            return .failure(Refusal(.unknownLevel, .equivalence, "\(level) is not a level of \(originator)'s scheme"))
        }
        guard let row = agreement.equivalence.row(for: originator, level: level),
            let codes = row.levels[receiver], let rScheme = agreement.scheme(of: receiver)
        else {
            return .failure(
                Refusal(
                    .noEquivalence, .equivalence,
                    "\(agreement.id) has no equivalence row for \(originator) \(oLevel.marking) (\(oLevel.gloss)); it cannot be exchanged under this agreement"
                ))
        }
        let levels = codes.compactMap { rScheme.level($0) }
        return .success(
            DualMarking(
                agreement: agreement.id, tier: row.tier, originator: originator, originatorLevel: oLevel,
                receiver: receiver, receiverLevel: levels[0], alternatives: Array(levels.dropFirst())))
    }
}

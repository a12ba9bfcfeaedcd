public import Foundation

/// A dated act of one party on an agreement (Art 21, and what happened in
/// 2019). The sealing layer signs these; here they are plain values. The
/// state of an agreement at an instant is a pure function of its document,
/// its statements and the instant (``AgreementLifecycle``).
public struct LifecycleStatement: Hashable, Sendable {
    public typealias ID = String

    public enum Act: Hashable, Sendable {
        /// The party's notification that the agreement may enter into force
        /// (signature, or completion of its internal procedures). It enters
        /// into force when every party has notified, at the latest (Art 21(1)).
        case entryIntoForce
        /// Written notice of termination / not to renew (Art 21(3)). A stated
        /// `effective` instant, when given, must be the one the term rules give.
        case terminationNotice(effective: Date?)
        /// Suspension of the effect of a notice, on the premise that the
        /// suspending party may terminate at any time (22 Nov 2019).
        case noticeSuspension(notice: ID, condition: String?)
        /// Lifting of a suspension: terminates at once, or at `effective`.
        case suspensionLifted(notice: ID, effective: Date?)
        /// Withdrawal of a notice: back to normal renewal.
        case noticeWithdrawal(notice: ID)
        /// One party's written consent to an amendment (Art 21(2)); in effect
        /// once every party consented to the same `proposal`.
        case amendment(proposal: ID, summary: String, effective: Date?)
        /// One party's consent to terminate by mutual consent.
        case mutualTermination(proposal: ID, effective: Date?)

        public var name: String {
            switch self {
            case .entryIntoForce: "entry-into-force"
            case .terminationNotice: "termination-notice"
            case .noticeSuspension: "notice-suspension"
            case .suspensionLifted: "suspension-lifted"
            case .noticeWithdrawal: "notice-withdrawal"
            case .amendment: "amendment"
            case .mutualTermination: "mutual-termination"
            }
        }

        /// Order of acts made at the same instant.
        var rank: Int {
            switch self {
            case .entryIntoForce: 0
            case .amendment: 1
            case .terminationNotice: 2
            case .noticeSuspension: 3
            case .suspensionLifted: 4
            case .noticeWithdrawal: 5
            case .mutualTermination: 6
            }
        }

        /// An act from its name and its fields, as an operator states it:
        /// each act takes exactly its own fields (docs/agreements.md), so a
        /// field it does not use is refused rather than dropped.
        public static func make(
            _ name: String, effective: Date? = nil, notice: ID? = nil, condition: String? = nil, proposal: ID? = nil, summary: String? = nil
        ) -> Result<Act, ModelError> {
            let given: [(String, Bool)] = [
                ("effective", effective != nil), ("notice", notice != nil), ("condition", condition != nil),
                ("proposal", proposal != nil), ("summary", summary != nil),
            ]
            func fields(_ required: [String], _ optional: [String] = []) -> ModelError? {
                if let missing = required.first(where: { r in !given.contains { $0.0 == r && $0.1 } }) {
                    return ModelError(.invalidStatement, "a \(name) statement needs \(missing)")
                }
                if let extra = given.first(where: { $0.1 && !required.contains($0.0) && !optional.contains($0.0) }) {
                    return ModelError(.invalidStatement, "a \(name) statement takes no \(extra.0)")
                }
                for (field, value) in [("notice", notice), ("proposal", proposal)] {
                    if let value, !Identifier.isValid(value) {
                        return ModelError(.invalidStatement, "\(field) \"\(value.prefix(80))\" is not a valid identifier: \(Identifier.rule)")
                    }
                }
                for (field, value) in [("condition", condition), ("summary", summary)] {
                    if let value, !(1...500).contains(value.count) { return ModelError(.invalidStatement, "\(field) has 1 to 500 characters") }
                }
                return nil
            }
            let act: Act
            let problem: ModelError?
            switch name {
            case "entry-into-force": (act, problem) = (.entryIntoForce, fields([]))
            case "termination-notice": (act, problem) = (.terminationNotice(effective: effective), fields([], ["effective"]))
            case "notice-suspension":
                (act, problem) = (.noticeSuspension(notice: notice ?? "", condition: condition), fields(["notice"], ["condition"]))
            case "suspension-lifted":
                (act, problem) = (.suspensionLifted(notice: notice ?? "", effective: effective), fields(["notice"], ["effective"]))
            case "notice-withdrawal": (act, problem) = (.noticeWithdrawal(notice: notice ?? ""), fields(["notice"]))
            case "amendment":
                (act, problem) = (
                    .amendment(proposal: proposal ?? "", summary: summary ?? "", effective: effective), fields(["proposal", "summary"], ["effective"])
                )
            case "mutual-termination":
                (act, problem) = (.mutualTermination(proposal: proposal ?? "", effective: effective), fields(["proposal"], ["effective"]))
            default:
                return .failure(ModelError(.invalidStatement, "act is one of \(names.joined(separator: ", ")), not \(name.prefix(40))"))
            }
            if let problem { return .failure(problem) }
            return .success(act)
        }

        /// Every act's name, as statements files and the operator API write it.
        public static let names = [
            "entry-into-force", "termination-notice", "notice-suspension", "suspension-lifted", "notice-withdrawal", "amendment",
            "mutual-termination",
        ]

        /// The instant the act states it takes effect, if it states one.
        public var statedEffective: Date? {
            switch self {
            case .terminationNotice(let e), .suspensionLifted(_, let e), .amendment(_, _, let e),
                .mutualTermination(_, let e):
                e
            default: nil
            }
        }
    }

    public var id: ID
    public var agreement: Agreement.ID
    public var party: Party
    /// When the act was made (for a notice: when it was delivered).
    public var at: Date
    public var act: Act
    /// Free text for the record (where signed, by whom).
    public var note: String?

    public init(id: ID, agreement: Agreement.ID, party: Party, at: Date, act: Act, note: String? = nil) {
        self.id = id
        self.agreement = agreement
        self.party = party
        self.at = at
        self.act = act
        self.note = note
    }

    /// The canonical order: by instant, then act, then party, then id; a
    /// total order on distinct statements, so evaluation does not depend on
    /// the order statements arrive in.
    static func canonicalOrder(_ a: LifecycleStatement, _ b: LifecycleStatement) -> Bool {
        if a.at != b.at { return a.at < b.at }
        if a.act.rank != b.act.rank { return a.act.rank < b.act.rank }
        if a.party != b.party { return a.party < b.party }
        if a.id != b.id { return a.id < b.id }
        return String(describing: a) < String(describing: b)
    }
}

/// A statement the lifecycle engine did not accept, and why.
public struct RefusedStatement: Hashable, Sendable {
    public var statement: LifecycleStatement
    public var refusal: Refusal
}

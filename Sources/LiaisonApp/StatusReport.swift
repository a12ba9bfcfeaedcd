public import Foundation
public import LiaisonModel

/// The state of an agreement at an instant, for people (``text``) and for
/// tools (``json``): what `liaison agreement status` prints.
public struct StatusReport: Codable, Hashable, Sendable {
    public struct Term: Codable, Hashable, Sendable {
        public var start: String
        public var end: String
    }
    public struct Notice: Codable, Hashable, Sendable {
        public var statement: String
        public var party: String
        public var givenAt: String
        public var effective: String
    }
    public struct Suspension: Codable, Hashable, Sendable {
        public var statement: String
        public var party: String
        public var at: String
        public var condition: String?
        public var originalEffective: String
    }
    public struct Amendment: Codable, Hashable, Sendable {
        public var proposal: String
        public var summary: String
        public var effective: String
    }
    public struct Refused: Codable, Hashable, Sendable {
        public var statement: String
        public var party: String
        public var act: String
        public var code: String
        public var article: String
        public var reason: String
    }
    public struct Event: Codable, Hashable, Sendable {
        public var at: String
        public var phase: String
        public var description: String
        public var statements: [String]
    }

    public var agreement: String
    public var title: String
    public var timeZone: String
    public var at: String
    public var phase: String
    public var inForce: Bool
    public var since: String?
    public var cause: Cause
    public var notified: [String]
    public var enteredIntoForce: String?
    public var currentTerm: Term?
    public var nextAnniversary: String?
    /// First instant at which a notice is too late for the next anniversary.
    public var nextNoticeDeadline: String?
    public var notice: Notice?
    public var suspension: Suspension?
    public var scheduledTermination: String?
    public var terminatedAt: String?
    public var amendments: [Amendment]
    public var timeline: [Event]
    public var refusedStatements: [Refused]

    public init(lifecycle: AgreementLifecycle, at instant: Date) {
        let a = lifecycle.agreement
        let zone = a.term.timeZone
        func f(_ d: Date?) -> String? { d.map { RFC3339.format($0, in: zone) } }
        let s = lifecycle.status(at: instant)
        agreement = a.id
        title = a.title
        timeZone = zone.identifier
        at = RFC3339.format(instant, in: zone)
        phase = s.phase.rawValue
        inForce = s.isInForce
        since = f(s.since)
        cause = s.cause
        notified = s.notified.map(\.code)
        enteredIntoForce = f(s.enteredIntoForce)
        currentTerm = s.currentTerm.map { Term(start: f($0.start)!, end: f($0.end)!) }
        nextAnniversary = f(s.nextAnniversary)
        nextNoticeDeadline = f(s.nextNoticeDeadline)
        notice = s.notice.map {
            Notice(statement: $0.statement, party: $0.party.code, givenAt: f($0.givenAt)!, effective: f($0.effective)!)
        }
        suspension = s.suspension.map {
            Suspension(
                statement: $0.statement, party: $0.party.code, at: f($0.at)!, condition: $0.condition,
                originalEffective: f($0.originalEffective)!)
        }
        scheduledTermination = f(s.scheduledTermination)
        terminatedAt = f(s.terminatedAt)
        amendments = s.amendments.map { Amendment(proposal: $0.proposal, summary: $0.summary, effective: f($0.effective)!) }
        timeline = lifecycle.timeline(through: instant).map {
            Event(at: f($0.at)!, phase: $0.phase.rawValue, description: $0.cause.description, statements: $0.cause.statements)
        }
        refusedStatements = lifecycle.refused.map {
            Refused(
                statement: $0.statement.id, party: $0.statement.party.code, act: $0.statement.act.name,
                code: $0.refusal.code.name, article: $0.refusal.article.citation, reason: $0.refusal.reason)
        }
    }

    /// Pretty-printed JSON with snake_case keys and sorted keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    static let phaseText: [String: String] = [
        "pending": "pending — not yet in force",
        "in-force": "in force",
        "notice-given": "in force, termination notice given",
        "notice-suspended": "in force, termination notice suspended (terminable at will)",
        "terminated": "terminated — no new exchange; information already exchanged stays protected",
    ]

    public var text: String {
        var out = ["\(agreement) — \(title)", "  at          \(at) (\(timeZone))"]
        out.append("  state       \(Self.phaseText[phase] ?? phase)")
        out.append("  because     \(cause.description)\(cause.statements.isEmpty ? "" : " [\(cause.statements.joined(separator: ", "))]")")
        if let since { out.append("  since       \(since)") }
        if phase == "pending", !notified.isEmpty { out.append("  notified    \(notified.joined(separator: ", "))") }
        if let e = enteredIntoForce { out.append("  in force    since \(e)") }
        if let t = currentTerm { out.append("  term        \(t.start) → \(t.end)") }
        if let d = nextNoticeDeadline, let a = nextAnniversary {
            out.append("  renewal     renews \(a) unless notice is given before \(d) (Art 21)")
        }
        if let n = notice {
            out.append("  notice      \(n.statement) by \(n.party), given \(n.givenAt), effective \(n.effective)")
        }
        if let s = suspension {
            out.append("  suspended   \(s.statement) by \(s.party) at \(s.at)\(s.condition.map { ", \($0)" } ?? "")")
            out.append("              (the notice would have taken effect \(s.originalEffective))")
        }
        if let x = scheduledTermination { out.append("  terminates  \(x)") }
        if let x = terminatedAt { out.append("  terminated  \(x)") }
        for a in amendments { out.append("  amendment   \(a.proposal), effective \(a.effective): \(a.summary)") }
        if !timeline.isEmpty {
            out.append("  timeline")
            for e in timeline { out.append("    \(e.at)  \(e.description)") }
        }
        if !refusedStatements.isEmpty {
            out.append("  refused statements")
            for r in refusedStatements { out.append("    \(r.statement) (\(r.act) by \(r.party)): \(r.article): \(r.reason)") }
        }
        return out.joined(separator: "\n")
    }
}

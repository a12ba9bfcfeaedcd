public import Foundation

/// What brought an agreement to a state: the statements behind it and a sentence.
public struct Cause: Hashable, Sendable, Codable {
    public var statements: [LifecycleStatement.ID]
    public var description: String
    public init(statements: [LifecycleStatement.ID], description: String) {
        self.statements = statements
        self.description = description
    }
}

/// The state of an agreement at one instant, with its deadlines.
public struct AgreementStatus: Hashable, Sendable {
    public enum Phase: String, Hashable, Sendable, Codable {
        case pending
        case inForce = "in-force"
        case noticeGiven = "notice-given"
        case noticeSuspended = "notice-suspended"
        case terminated
    }

    public struct Notice: Hashable, Sendable {
        public var statement: LifecycleStatement.ID
        public var party: Party
        public var givenAt: Date
        /// When it terminates the agreement unless suspended or withdrawn.
        public var effective: Date
    }

    public struct Suspension: Hashable, Sendable {
        public var statement: LifecycleStatement.ID
        public var party: Party
        public var at: Date
        public var condition: String?
        /// The effective instant the notice had when it was suspended.
        public var originalEffective: Date
    }

    public struct AppliedAmendment: Hashable, Sendable {
        public var proposal: LifecycleStatement.ID
        public var summary: String
        public var effective: Date
        public var statements: [LifecycleStatement.ID]
    }

    public var agreement: Agreement.ID
    public var instant: Date
    public var phase: Phase
    /// When the phase began (`nil` for an agreement pending from the start).
    public var since: Date?
    public var cause: Cause
    /// While pending: the parties that have notified.
    public var notified: [Party]
    public var enteredIntoForce: Date?
    /// The term running now (automatic renewal only).
    public var currentTerm: DateInterval?
    /// The first instant at which a notice no longer stops the next renewal,
    /// and that anniversary (in force with no pending notice only).
    public var nextNoticeDeadline: Date?
    public var nextAnniversary: Date?
    public var notice: Notice?
    public var suspension: Suspension?
    /// A termination already decided but not yet reached.
    public var scheduledTermination: Date?
    public var terminatedAt: Date?
    public var amendments: [AppliedAmendment]

    /// In force: information may be exchanged (invariant 1). A suspended
    /// notice leaves the agreement in force; termination ends exchange but
    /// not the protection of what was exchanged (Art 21, invariant 4).
    public var isInForce: Bool { phase == .inForce || phase == .noticeGiven || phase == .noticeSuspended }
}

/// One entry of an agreement's timeline.
public struct TimelineEvent: Hashable, Sendable {
    public var at: Date
    public var phase: AgreementStatus.Phase
    public var cause: Cause
}

/// The lifecycle engine (Art 21 and the 2019 precedent): evaluates an
/// agreement's statements into its history. A pure function of the document
/// and the statements; ``status(at:)`` reads it at any instant.
///
/// Rules (documented in `docs/agreements.md`):
/// - statements are taken in canonical order (instant, act, party, id), so
///   the result does not depend on arrival order; exact duplicates count
///   once; different statements sharing an id are all refused;
/// - nothing is retroactive: a statement never changes the state before it
///   was made, and a stated effective instant before the statement is refused;
/// - statements by a non-party, for another agreement, or after termination
///   are refused, each with its reason.
public struct AgreementLifecycle: Sendable {
    public let agreement: Agreement
    /// Accepted statements in canonical order.
    public let accepted: [LifecycleStatement]
    public let refused: [RefusedStatement]
    /// Every change, in time order, including scheduled ones still to come.
    public let events: [TimelineEvent]
    private let snapshots: [(at: Date, state: Snapshot)]
    /// The instants and phases of `snapshots`, for cheap in-force checks.
    private let phaseInstants: [Date]
    private let phases: [AgreementStatus.Phase]

    public init(agreement: Agreement, statements: [LifecycleStatement]) {
        var machine = Machine(agreement: agreement)
        // Exact duplicates count once; one id with two contents is a conflict.
        var byID: [LifecycleStatement.ID: [LifecycleStatement]] = [:]
        for s in statements where !(byID[s.id]?.contains(s) ?? false) { byID[s.id, default: []].append(s) }
        var unique: [LifecycleStatement] = []
        for (_, group) in byID {
            if group.count == 1 {
                unique.append(group[0])
            } else {
                for s in group {
                    machine.refuse(
                        s, .conflictingStatement, .lifecycle,
                        "\(group.count) different statements share the id \(s.id); none of them is accepted")
                }
            }
        }
        unique.sort(by: LifecycleStatement.canonicalOrder)
        for s in unique { machine.apply(s) }
        machine.advance(to: .distantFuture)
        self.agreement = agreement
        self.accepted = machine.accepted
        self.refused = machine.refused.sorted { LifecycleStatement.canonicalOrder($0.statement, $1.statement) }
        self.events = machine.snapshots.map { TimelineEvent(at: $0.at, phase: $0.state.phase, cause: $0.state.cause) }
        self.snapshots = machine.snapshots
        self.phaseInstants = machine.snapshots.map(\.at)
        self.phases = machine.snapshots.map(\.state.phase)
    }

    /// The state at `instant`.
    public func status(at instant: Date) -> AgreementStatus {
        let snap = snapshots.last(where: { $0.at <= instant })?.state ?? Snapshot.initial
        var s = AgreementStatus(
            agreement: agreement.id, instant: instant, phase: snap.phase, since: snap.since, cause: snap.cause,
            notified: snap.notified.keys.sorted(), enteredIntoForce: snap.entry, currentTerm: nil,
            nextNoticeDeadline: nil, nextAnniversary: nil, notice: snap.notice, suspension: snap.suspension,
            scheduledTermination: nil, terminatedAt: snap.phase == .terminated ? snap.since : nil,
            amendments: snap.amendments)
        if s.phase == .terminated {
            s.notice = nil
            s.suspension = nil
        }
        if s.isInForce, let entry = snap.entry {
            let term = agreement.term
            s.currentTerm = term.currentTerm(at: instant, entry: entry)
            s.nextAnniversary = s.currentTerm?.end
            if s.phase == .inForce, let next = term.nextNoticeDeadline(after: instant, entry: entry) {
                s.nextNoticeDeadline = next.deadline
            }
            s.scheduledTermination = [snap.noticeTermination?.at, snap.mutualTermination?.at]
                .compactMap { $0 }.filter { $0 > instant }.min()
        }
        return s
    }

    /// Whether information may be exchanged under the agreement at
    /// `instant` (cheap: no calendar work).
    public func isInForce(at instant: Date) -> Bool {
        var i = phaseInstants.count - 1
        while i >= 0, phaseInstants[i] > instant { i -= 1 }
        let phase = i >= 0 ? phases[i] : .pending
        return phase == .inForce || phase == .noticeGiven || phase == .noticeSuspended
    }

    /// The events up to `instant`, with each anniversary the agreement
    /// passed in force (automatic renewals), in time order.
    public func timeline(through instant: Date) -> [TimelineEvent] {
        var out = events.filter { $0.at <= instant }
        if agreement.term.renewal == .automatic, let entry = snapshots.first(where: { $0.state.entry != nil })?.state.entry {
            var k = 1
            while true {
                let a = agreement.term.anniversary(k, entry: entry)
                guard a <= instant, k < 10_000 else { break }
                let st = status(at: a)
                guard st.isInForce else { break }
                let description =
                    st.phase == .noticeSuspended
                    ? "anniversary passed while the notice is suspended; in force, terminable at will"
                    : "renewed automatically for a term ending \(RFC3339.formatDate(agreement.term.anniversary(k + 1, entry: entry), in: agreement.term.timeZone)) (Art 21)"
                out.append(TimelineEvent(at: a, phase: st.phase, cause: Cause(statements: [], description: description)))
                k += 1
            }
        }
        return out.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    }
}

/// The engine's internal state between statements.
struct Snapshot: Hashable, Sendable {
    var phase: AgreementStatus.Phase
    var since: Date?
    var cause: Cause
    var notified: [Party: LifecycleStatement.ID] = [:]
    var entry: Date?
    var notice: AgreementStatus.Notice?
    var suspension: AgreementStatus.Suspension?
    var noticeTermination: Scheduled?
    var mutualTermination: Scheduled?
    var amendments: [AgreementStatus.AppliedAmendment] = []
    var pendingAmendments: [AgreementStatus.AppliedAmendment] = []

    struct Scheduled: Hashable, Sendable {
        var at: Date
        var cause: Cause
    }

    static let initial = Snapshot(
        phase: .pending, since: nil, cause: Cause(statements: [], description: "no party has notified entry into force"))
}

struct Machine {
    let agreement: Agreement
    var state = Snapshot.initial
    var snapshots: [(at: Date, state: Snapshot)] = []
    var accepted: [LifecycleStatement] = []
    var refused: [RefusedStatement] = []
    /// Consents collected per proposal (amendments and mutual termination).
    var consents: [LifecycleStatement.ID: [LifecycleStatement]] = [:]
    var completedProposals = Set<LifecycleStatement.ID>()

    init(agreement: Agreement) { self.agreement = agreement }

    var zone: TimeZone { agreement.term.timeZone }
    func show(_ d: Date) -> String { RFC3339.format(d, in: zone) }

    mutating func refuse(_ s: LifecycleStatement, _ code: Refusal.Code, _ article: Article, _ reason: String) {
        refused.append(RefusedStatement(statement: s, refusal: Refusal(code, article, reason)))
    }

    mutating func record(_ at: Date) { snapshots.append((at, state)) }

    /// Applies scheduled events (amendments, then terminations) up to `t`.
    mutating func advance(to t: Date) {
        while state.phase != .terminated {
            let amendment = state.pendingAmendments.min { $0.effective < $1.effective }
            let termination = [state.noticeTermination, state.mutualTermination].compactMap { $0 }
                .min { $0.at < $1.at }
            if let a = amendment, a.effective <= t, termination.map({ a.effective <= $0.at }) ?? true {
                state.pendingAmendments.removeAll { $0.proposal == a.proposal }
                state.amendments.append(a)
                state.cause = Cause(statements: a.statements, description: "amendment \(a.proposal) took effect: \(a.summary)")
                record(a.effective)
            } else if let x = termination, x.at <= t {
                terminate(at: x.at, cause: x.cause)
            } else {
                return
            }
        }
    }

    mutating func terminate(at: Date, cause: Cause) {
        state.phase = .terminated
        state.since = at
        state.cause = cause
        state.noticeTermination = nil
        state.mutualTermination = nil
        state.pendingAmendments = []
        record(at)
    }

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    mutating func apply(_ s: LifecycleStatement) {
        advance(to: s.at)
        guard s.agreement == agreement.id else {
            return refuse(s, .wrongAgreement, .lifecycle, "statement \(s.id) is for \(s.agreement), not \(agreement.id)")
        }
        guard agreement.isParty(s.party) else {
            return refuse(s, .notAParty, .lifecycle, "\(s.party) is not a party to \(agreement.id) and cannot act on it")
        }
        guard state.phase != .terminated else {
            return refuse(
                s, .afterTermination, .lifecycle,
                "\(agreement.id) terminated at \(show(state.since!)) (\(state.cause.description)); no act follows termination — the protection of information already exchanged continues"
            )
        }
        if let e = s.act.statedEffective, e < s.at {
            return refuse(
                s, .retroactive, .lifecycle,
                "states an effective instant \(show(e)) before the statement itself (\(show(s.at))); acts are never retroactive")
        }
        let term = agreement.term
        switch s.act {
        case .entryIntoForce:
            guard state.phase == .pending else {
                return refuse(s, .invalidInState, .lifecycle, "\(agreement.id) is already in force since \(show(state.entry!))")
            }
            if let earlier = state.notified[s.party] {
                return refuse(s, .invalidInState, .lifecycle, "\(s.party) already notified entry into force (\(earlier))")
            }
            state.notified[s.party] = s.id
            let missing = agreement.partyCodes.filter { state.notified[$0] == nil }
            if missing.isEmpty {
                state.phase = .inForce
                state.since = s.at
                state.entry = s.at
                state.cause = Cause(
                    statements: agreement.partyCodes.compactMap { state.notified[$0] },
                    description: "entered into force on the last notification, by \(s.party) (Art 21(1))")
            } else {
                state.cause = Cause(
                    statements: [s.id],
                    description: "\(s.party) notified; waiting for \(missing.map(\.code).joined(separator: ", "))")
            }

        case .terminationNotice(let stated):
            if state.phase == .pending {
                return refuse(s, .invalidInState, .lifecycle, "\(agreement.id) is not in force yet; there is nothing to terminate")
            }
            if let n = state.notice {
                return refuse(
                    s, .invalidInState, .lifecycle,
                    "a notice by \(n.party) (\(n.statement)) is already pending; it must be withdrawn before another is given")
            }
            let effective = term.effectiveInstant(ofNoticeGivenAt: s.at, entry: state.entry!)
            if let stated, stated != effective {
                return refuse(
                    s, .wrongEffectiveInstant, .lifecycle,
                    "a notice given \(show(s.at)) takes effect at \(show(effective)), not \(show(stated))\(term.renewal == .automatic ? " (the first anniversary at least \(term.noticePeriodDays) days away)" : "")"
                )
            }
            state.phase = .noticeGiven
            state.since = s.at
            state.notice = AgreementStatus.Notice(statement: s.id, party: s.party, givenAt: s.at, effective: effective)
            state.cause = Cause(
                statements: [s.id],
                description: "\(s.party) gave written notice of termination, effective \(show(effective)) (Art 21(3))")
            state.noticeTermination = .init(
                at: effective,
                cause: Cause(statements: [s.id], description: "\(s.party)'s notice \(s.id) took effect (Art 21(3))"))

        case .noticeSuspension(let noticeID, let condition):
            guard let n = state.notice, state.phase == .noticeGiven else {
                return refuse(
                    s, .invalidInState, .lifecycle,
                    state.phase == .noticeSuspended ? "the notice is already suspended" : "there is no pending notice to suspend")
            }
            guard n.statement == noticeID else {
                return refuse(s, .wrongNotice, .lifecycle, "names notice \(noticeID), but the pending notice is \(n.statement)")
            }
            guard n.party == s.party else {
                return refuse(s, .invalidInState, .lifecycle, "only \(n.party), which gave notice \(n.statement), can suspend it")
            }
            state.phase = .noticeSuspended
            state.since = s.at
            state.suspension = .init(
                statement: s.id, party: s.party, at: s.at, condition: condition, originalEffective: n.effective)
            state.noticeTermination = nil
            state.cause = Cause(
                statements: [s.id],
                description: "\(s.party) suspended the effect of its notice \(noticeID); in force, terminable at will")

        case .suspensionLifted(let noticeID, let stated):
            guard let n = state.notice, state.phase == .noticeSuspended else {
                return refuse(s, .invalidInState, .lifecycle, "there is no suspended notice to lift")
            }
            guard n.statement == noticeID else {
                return refuse(s, .wrongNotice, .lifecycle, "names notice \(noticeID), but the suspended notice is \(n.statement)")
            }
            guard n.party == s.party else {
                return refuse(s, .invalidInState, .lifecycle, "only \(n.party), which suspended its notice, can lift the suspension")
            }
            let effective = stated ?? s.at
            state.suspension = nil
            let cause = Cause(statements: [s.id], description: "\(s.party) lifted the suspension of notice \(noticeID)")
            if effective == s.at {
                accepted.append(s)
                return terminate(at: s.at, cause: cause)
            }
            state.phase = .noticeGiven
            state.since = s.at
            state.notice?.effective = effective
            state.cause = Cause(statements: [s.id], description: "\(cause.description); terminates \(show(effective))")
            state.noticeTermination = .init(at: effective, cause: cause)

        case .noticeWithdrawal(let noticeID):
            guard let n = state.notice, state.phase == .noticeGiven || state.phase == .noticeSuspended else {
                return refuse(s, .invalidInState, .lifecycle, "there is no pending notice to withdraw")
            }
            guard n.statement == noticeID else {
                return refuse(s, .wrongNotice, .lifecycle, "names notice \(noticeID), but the pending notice is \(n.statement)")
            }
            guard n.party == s.party else {
                return refuse(s, .invalidInState, .lifecycle, "only \(n.party), which gave notice \(noticeID), can withdraw it")
            }
            state.phase = .inForce
            state.since = s.at
            state.notice = nil
            state.suspension = nil
            state.noticeTermination = nil
            state.cause = Cause(
                statements: [s.id], description: "\(s.party) withdrew notice \(noticeID); automatic renewal resumes")

        case .amendment(let proposal, _, _), .mutualTermination(let proposal, _):
            guard collectConsent(s, proposal: proposal) else { return }
            let group = consents[proposal]!
            let missing = agreement.partyCodes.filter { p in !group.contains { $0.party == p } }
            let kind = if case .amendment = s.act { "amendment" } else { "termination by mutual consent" }
            guard missing.isEmpty else {
                state.cause = Cause(
                    statements: [s.id],
                    description: "\(s.party) consented to \(kind) \(proposal); waiting for \(missing.map(\.code).joined(separator: ", "))")
                break
            }
            completedProposals.insert(proposal)
            let effective = max(s.at, s.act.statedEffective ?? s.at)
            let ids = group.map(\.id)
            if case .amendment(_, let summary, _) = s.act {
                let applied = AgreementStatus.AppliedAmendment(
                    proposal: proposal, summary: summary, effective: effective, statements: ids)
                if effective == s.at {
                    state.amendments.append(applied)
                    state.cause = Cause(statements: ids, description: "amendment \(proposal) in effect by mutual written consent (Art 21(2)): \(summary)")
                } else {
                    state.pendingAmendments.append(applied)
                    state.cause = Cause(statements: ids, description: "amendment \(proposal) agreed, effective \(show(effective))")
                }
            } else {
                let cause = Cause(statements: ids, description: "terminated by mutual consent (\(proposal))")
                if effective == s.at {
                    accepted.append(s)
                    return terminate(at: s.at, cause: cause)
                }
                state.mutualTermination = .init(at: effective, cause: cause)
                state.cause = Cause(statements: ids, description: "termination by mutual consent agreed, effective \(show(effective))")
            }
        }
        accepted.append(s)
        record(s.at)
    }

    /// Adds a party's consent to a proposal, refusing mismatches and repeats.
    mutating func collectConsent(_ s: LifecycleStatement, proposal: LifecycleStatement.ID) -> Bool {
        if completedProposals.contains(proposal) {
            refuse(s, .invalidInState, .lifecycle, "proposal \(proposal) already has every party's consent")
            return false
        }
        let group = consents[proposal] ?? []
        if let first = group.first {
            let same: Bool
            switch (first.act, s.act) {
            case (.amendment(_, let a, let ea), .amendment(_, let b, let eb)): same = a == b && ea == eb
            case (.mutualTermination(_, let ea), .mutualTermination(_, let eb)): same = ea == eb
            default: same = false
            }
            guard same else {
                refuse(
                    s, .mismatchedProposal, .lifecycle,
                    "does not match \(first.party)'s consent \(first.id) to proposal \(proposal); every party must consent to the same text and effective instant"
                )
                return false
            }
        }
        if let earlier = group.first(where: { $0.party == s.party }) {
            refuse(s, .duplicateConsent, .lifecycle, "\(s.party) already consented to \(proposal) (\(earlier.id))")
            return false
        }
        consents[proposal, default: []].append(s)
        return true
    }
}

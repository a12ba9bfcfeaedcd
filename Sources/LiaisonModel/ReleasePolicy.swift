public import Foundation

/// May `holder` send `item` to `recipient` under `agreement` at `instant`?
public struct ReleaseRequest: Hashable, Sendable {
    public var item: ItemFacts
    public var holder: Party
    public var recipient: Party
    public var agreement: Agreement.ID
    public var instant: Date
    /// Consents presented with the item (the originator's written approvals).
    public var consents: [Consent]

    public init(
        item: ItemFacts, holder: Party, recipient: Party, agreement: Agreement.ID, instant: Date,
        consents: [Consent] = []
    ) {
        self.item = item
        self.holder = holder
        self.recipient = recipient
        self.agreement = agreement
        self.instant = instant
        self.consents = consents
    }
}

/// Invariant 1: no item leaves a node to a party unless an agreement with
/// that party is in force at that instant, the item's level has an
/// equivalence row, the party is releasable, the purpose is in scope, a hub
/// agreement's route is followed, and — when the holder is not the
/// originator — a valid consent from the originator names that party. The
/// receiving node evaluates the same policy again (invariant 2).
public enum ReleasePolicy {
    public static func evaluate(_ r: ReleaseRequest, book: AgreementBook) -> Decision {
        let label = r.item.label
        guard r.holder != r.recipient else {
            return .refuse(.sameParty, .parties, "\(r.holder) cannot release an item to itself")
        }
        guard let lifecycle = book[r.agreement] else {
            return .refuse(.unknownAgreement, .parties, "no agreement \(r.agreement) is known to this node")
        }
        let a = lifecycle.agreement
        // In this order; the first refusal wins.
        var d = parties(a, r)
        if d.isPermitted { d = inForce(lifecycle, at: r.instant, role: "") }
        if d.isPermitted { d = hubRoute(a, r) }
        if d.isPermitted { d = underlying(a, r, book) }
        if d.isPermitted { d = originator(a, label) }
        if d.isPermitted { d = equivalence(a, label, r.recipient) }
        if d.isPermitted { d = releasable(label, r.recipient) }
        if d.isPermitted { d = purpose(a, label) }
        if d.isPermitted { d = thirdParty(a, r) }
        return d
    }

    static func parties(_ a: Agreement, _ r: ReleaseRequest) -> Decision {
        for p in [r.holder, r.recipient] where !a.isParty(p) {
            return .refuse(.notAParty, .parties, "\(p) is not a party to \(a.id)")
        }
        return .permitted
    }

    /// Information travels only under an agreement its originator is party
    /// to: another one has no equivalence for its levels and no consent rule
    /// binding the originator's interest.
    static func originator(_ a: Agreement, _ label: SecurityLabel) -> Decision {
        guard a.isParty(label.originator) else {
            return .refuse(
                .originatorNotParty, .thirdParty,
                "the originator \(label.originator) is not a party to \(a.id); information \(label.originator) provided cannot be passed on under it")
        }
        return .permitted
    }

    static func inForce(_ lifecycle: AgreementLifecycle, at t: Date, role: String) -> Decision {
        guard !lifecycle.isInForce(at: t) else { return .permitted }
        let status = lifecycle.status(at: t)
        let zone = lifecycle.agreement.term.timeZone
        let what =
            status.phase == .terminated
            ? "terminated at \(RFC3339.format(status.since!, in: zone)) (\(status.cause.description)); nothing new is exchanged under it, and what was exchanged stays protected"
            : "not yet in force (\(status.cause.description))"
        return .refuse(
            role.isEmpty ? .notInForce : .underlyingNotInForce, .lifecycle,
            "\(role)\(lifecycle.agreement.id) is \(what)")
    }

    /// An arrangement riding on bilateral agreements (TISA) needs the one
    /// binding the two parties of the hop to be in force too.
    static func underlying(_ a: Agreement, _ r: ReleaseRequest, _ book: AgreementBook) -> Decision {
        guard !a.basedOn.isEmpty else { return .permitted }
        let candidates = a.basedOn.compactMap { book[$0] }.filter {
            $0.agreement.isParty(r.holder) && $0.agreement.isParty(r.recipient)
        }
        guard let base = candidates.first else {
            return .refuse(
                .unknownAgreement, .parties,
                "\(a.id) rides on \(a.basedOn.joined(separator: ", ")), but none of them known here binds \(r.holder) and \(r.recipient)")
        }
        return inForce(base, at: r.instant, role: "\(a.id) rides on ")
    }

    static func equivalence(_ a: Agreement, _ label: SecurityLabel, _ recipient: Party) -> Decision {
        // The common case without building the marking.
        if let row = a.equivalence.row(for: label.originator, level: label.level), row.levels[recipient]?.isEmpty == false,
            a.scheme(of: label.originator)?.level(label.level) != nil
        {
            return .permitted
        }
        switch DualMarking.make(agreement: a, originator: label.originator, level: label.level, receiver: recipient) {
        case .success: return .permitted
        case .failure(let refusal): return .refused(refusal)
        }
    }

    static func releasable(_ label: SecurityLabel, _ recipient: Party) -> Decision {
        guard label.releasableTo.contains(recipient) else {
            let list = label.releasableTo.sorted().map(\.code).joined(separator: ", ")
            return .refuse(
                .notReleasable, .thirdParty,
                "the originator \(label.originator) marked the item releasable to \(list.isEmpty ? "no other party" : list), not \(recipient)")
        }
        return .permitted
    }

    static func purpose(_ a: Agreement, _ label: SecurityLabel) -> Decision {
        guard !a.purposes.isEmpty else { return .permitted }
        guard let p = label.purpose, a.purpose(p) != nil else {
            let scope = a.purposes.map(\.code).joined(separator: ", ")
            return .refuse(
                .purposeOutOfScope, .purpose,
                "\(a.id) is limited to \(scope); the item's purpose is \(label.purpose ?? "not stated")")
        }
        return .permitted
    }

    static func hubRoute(_ a: Agreement, _ r: ReleaseRequest) -> Decision {
        guard let hub = a.hub else { return .permitted }
        let origin = r.item.label.originator
        if r.holder == origin, r.recipient == hub.hub, hub.routes.contains(where: { $0.from == origin }) {
            return .permitted
        }
        if r.holder == hub.hub, hub.routes.contains(.init(from: origin, to: r.recipient)) { return .permitted }
        // A participant holding another's item may give it to the hub; the
        // third-party rule then asks for the originator's consent.
        if r.recipient == hub.hub, r.holder != origin, origin != hub.hub { return .permitted }
        let routes = hub.routes.filter { $0.from == origin }.map { "\($0.from) → \(hub.hub) → \($0.to)" }.joined(separator: ", ")
        return .refuse(
            .notOnHubRoute, .hub,
            "under \(a.id) items from \(origin) travel only \(routes.isEmpty ? "through the hub" : routes); \(r.holder) → \(r.recipient) is not on a route")
    }

    static func thirdParty(_ a: Agreement, _ r: ReleaseRequest) -> Decision {
        let label = r.item.label
        guard r.holder != label.originator else { return .permitted }
        guard a.thirdPartyRule == .originatorConsent else {
            return .refuse(.onwardReleaseProhibited, .thirdParty, "\(a.id) allows only the originator to release")
        }
        guard !r.consents.isEmpty else {
            return .refuse(
                .consentRequired, .thirdParty,
                "\(r.holder) is not the originator; releasing to \(r.recipient) needs \(label.originator)'s prior written consent")
        }
        var first: Decision?
        for c in r.consents {
            let d = check(c, r)
            if d.isPermitted { return d }
            first = first ?? d
        }
        return first!
    }

    /// Whether `c` is the originator's consent for this holder, item,
    /// recipient and purpose, valid at the instant.
    static func check(_ c: Consent, _ r: ReleaseRequest) -> Decision {
        let label = r.item.label
        func no(_ why: String) -> Decision { .refuse(.consentInvalid, .thirdParty, "consent \(c.id) \(why)") }
        if c.originator != label.originator { return no("is from \(c.originator), not the originator \(label.originator)") }
        if c.itemDigest != r.item.digest { return no("is for another item") }
        if c.holder != r.holder { return no("is for holder \(c.holder), not \(r.holder)") }
        if c.thirdParty != r.recipient { return no("names \(c.thirdParty), not \(r.recipient)") }
        if let p = c.purpose, p != label.purpose { return no("is for purpose \(p), not \(label.purpose ?? "none")") }
        if r.instant < c.issuedAt { return no("is not valid before \(RFC3339.format(c.issuedAt))") }
        if r.instant >= c.expiresAt { return no("expired at \(RFC3339.format(c.expiresAt))") }
        return .permitted
    }
}

public import Foundation
public import LiaisonModel
public import LiaisonSealing
public import LiaisonStore

/// Acts an officer of this node takes, signed with the node's key and sent
/// to the parties they concern: a consent for a holder to pass on one of
/// this node's items (Art 6(a)), a loss or compromise report (Art 17).
extension Federation {
    /// The originator's consent (Art 6(a)): `holder` may release this node's
    /// item to `thirdParty`, for `purpose`, until `expires`. Signed here and
    /// sent to the holder, whose node records it; the hub route (TISA) and
    /// the final recipient check it themselves.
    @discardableResult
    public func grantConsent(
        itemID: [UInt8], holder: Party, thirdParty: Party, purpose: String?, expires: Date, by officer: String
    ) async throws(FederationError) -> (consent: Signed<ConsentBody>, tasks: [StatementTask]) {
        let (signed, entry) = try await makeConsent(itemID: itemID, holder: holder, thirdParty: thirdParty, purpose: purpose, expires: expires, by: officer)
        // Recorded as given only with the statement that carries it to the holder.
        return (signed, try await publish([.consent(signed)], to: [holder], recording: [entry]))
    }

    /// A consent checked and signed, with its ledger entry; not yet recorded or sent.
    func makeConsent(
        itemID: [UInt8], holder: Party, thirdParty: Party, purpose: String?, expires: Date, by officer: String
    ) async throws(FederationError) -> (consent: Signed<ConsentBody>, entry: LedgerEntry) {
        let now = clock()
        let holding = try await storeCall { () throws(StoreError) in try await store.holdings([itemID]) }[0]
        guard holding.originator == party else {
            throw FederationError(
                .refused, "only the originator consents (Art 6(a)); this item is \(holding.originator)'s",
                refusal: Refusal(.notOriginator, .thirdParty, "only \(holding.originator) may consent to passing on its item"))
        }
        guard holding.status == .held else { throw FederationError(.refused, "the item is \(holding.status.rawValue)") }
        guard holder != party, thirdParty != party, holder != thirdParty else {
            throw FederationError(.refused, "a consent names a holder and a third party, two other parties")
        }
        // A consent is for a holder: a party this node released the item to.
        let tasks = try await storeCall { () throws(StoreError) in try await store.outboxTasks(itemID: itemID, before: nil, limit: 1000) }
        guard tasks.contains(where: { $0.peer == holder && $0.state != .refused }) else {
            throw FederationError(.refused, "\(holder) does not hold this item (it was not released to \(holder))")
        }
        guard expires > now, expires <= now.addingTimeInterval(366 * 86_400) else {
            throw FederationError(.refused, "a consent lasts from now to at most a year")
        }
        guard book.lifecycles.values.contains(where: { $0.agreement.isParty(party) && $0.agreement.isParty(holder) }) else {
            throw FederationError(.refused, "no agreement with \(holder) is known here")
        }
        let consent = Consent(
            id: "\(party.code.lowercased())-consent-\(UUID().uuidString.prefix(8).lowercased())", originator: party, itemDigest: Hex.encode(holding.digest),
            holder: holder, thirdParty: thirdParty, purpose: purpose, issuedAt: now, expiresAt: expires)
        let signed: Signed<ConsentBody>
        do { signed = try Signed(signing: ConsentBody(consent), with: signing) } catch {
            throw FederationError(.unavailable, "the consent cannot be signed: \(error)")
        }
        let entry = LedgerEntry(
            kind: .consentGiven, at: now, party: holder, subjects: [holding.digest],
            detail: "\(consent.id): \(holder) may pass it to \(thirdParty) until \(RFC3339.format(expires)), by \(officer)")
        return (signed, entry)
    }

    /// A report of loss or compromise of a held item (Art 17), made by a
    /// security officer: signed here, the item marked compromised, the
    /// report sent to the originator at once. A further report on the same
    /// `incident` (one of this node's on this item) keeps its id and moves
    /// it to a later stage: suspected, investigating, findings, measures.
    @discardableResult
    public func reportCompromise(
        itemID: [UInt8], stage: CompromiseReport.Stage, description: String, continuing incident: String? = nil, by officer: String
    ) async throws(FederationError) -> [StatementTask] {
        let text = description.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...2000).contains(text.count) else { throw FederationError(.malformed, "a report describes what happened in 1 to 2000 characters") }
        let holding = try await storeCall { () throws(StoreError) in try await store.holdings([itemID]) }[0]
        var id = "\(party.code.lowercased())-incident-\(UUID().uuidString.prefix(8).lowercased())"
        if let incident {
            let earlier = try await storeCall { () throws(StoreError) in try await store.holdingEvents(itemID) }
                .filter { $0.kind == .compromised }.compactMap { try? Signed<CompromiseReport>(canonical: $0.evidence).body }
                .filter { $0.id == incident && $0.reporter == party }
            guard let last = earlier.max(by: { $0.stage.rawValue < $1.stage.rawValue }) else {
                throw FederationError(.notFound, "\(party) has made no report \(incident.prefix(80)) on this item")
            }
            guard stage.rawValue > last.stage.rawValue else {
                throw FederationError(.refused, "incident \(incident) is at stage \(last.stage) already; a further report moves it to a later stage")
            }
            id = incident
        }
        let report = CompromiseReport(
            id: id, reporter: party, originator: holding.originator,
            itemDigests: [holding.digest], stage: stage, at: clock(), description: "\(text) (reported by \(officer))")
        let signed: Signed<CompromiseReport>
        do { signed = try Signed(signing: report, with: signing) } catch {
            throw FederationError(.unavailable, "the report cannot be signed: \(error)")
        }
        return try await reportCompromise(signed, itemID: itemID)
    }

    /// The originator reclassifies its item (Art 6(g)): the reclassification
    /// policy decides (every holder's agreement must have an equivalent for
    /// the new level); the item is re-marked here and the signed notice goes
    /// to every holder, who re-marks and acknowledges.
    @discardableResult
    public func reclassify(itemID: [UInt8], to newLevel: String, reason: String, by officer: String) async throws(FederationError) -> [StatementTask] {
        let text = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...500).contains(text.count) else { throw FederationError(.malformed, "a reclassification gives its reason in 1 to 500 characters") }
        let now = clock()
        let holding = try await storeCall { () throws(StoreError) in try await store.holdings([itemID]) }[0]
        guard holding.status == .held else { throw FederationError(.refused, "the item is \(holding.status.rawValue)") }
        let book = self.book
        guard let scheme = book.lifecycles.values.sorted(by: { $0.agreement.id < $1.agreement.id }).lazy.compactMap({ $0.agreement.scheme(of: self.party) }).first
        else { throw FederationError(.notFound, "no classification scheme of \(party) is known to this node") }
        // Who holds it, or soon will: every peer it was released to (delivered, in flight or queued), under its agreement.
        let tasks = try await storeCall { () throws(StoreError) in try await store.outboxTasks(itemID: itemID, before: nil, limit: 10_000) }
        var holders: [LiaisonModel.Holding] = []
        for t in tasks where t.state != .refused {
            guard let a = book[t.agreement]?.agreement else {
                throw FederationError(.refused, "the item was released to \(t.peer) under \(t.agreement), which this node no longer knows")
            }
            if !holders.contains(where: { $0.party == t.peer && $0.agreement.id == a.id }) { holders.append(LiaisonModel.Holding(party: t.peer, agreement: a)) }
        }
        let decision = ReclassificationPolicy.evaluate(
            ReclassificationRequest(
                item: ItemFacts(digest: Hex.encode(holding.digest), label: holding.label), by: party, newLevel: newLevel, originatorScheme: scheme,
                holdings: holders))
        if case .refused(let r) = decision { throw FederationError(.refused, r.description, refusal: r) }
        let label = holding.label
        let newLabel: SecurityLabel
        do {
            newLabel = try SecurityLabel(
                policy: label.policy, originator: label.originator, level: newLevel, releasableTo: label.releasableTo, categories: label.categories,
                purpose: label.purpose, created: label.created, review: label.review)
        } catch { throw FederationError(.refused, "the new label is not valid: \(error)") }
        let notice = ReclassificationNotice(
            id: "\(party.code.lowercased())-reclass-\(UUID().uuidString.prefix(8).lowercased())", originator: party, itemDigest: holding.digest,
            oldLevel: label.level, newLevel: newLevel, at: now, reason: "\(text) (by \(officer))")
        let signed: Signed<ReclassificationNotice>
        do { signed = try Signed(signing: notice, with: signing) } catch { throw FederationError(.unavailable, "the notice cannot be signed: \(error)") }
        let entry = LedgerEntry(
            kind: .reclassified, at: now, subjects: [holding.digest], detail: "\(notice.id): \(label.level) → \(newLevel) by \(officer): \(text)")
        let peers = Array(Set(holders.map(\.party))).sorted()
        return try await changeHolding(itemID, .reclassified(newLabel, notice: signed.derBytes), entry, telling: peers, [.reclassification(signed, itemID: itemID)])
    }

    /// Destroys a held item on a security officer's decision (Art 6(h), 13):
    /// the payload erased here, a signed certificate kept and sent to the
    /// originator.
    @discardableResult
    public func destroy(itemID: [UInt8], method: String, request: String?, by officer: String) async throws(FederationError) -> [StatementTask] {
        let text = method.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...500).contains(text.count) else { throw FederationError(.malformed, "a destruction names its method in 1 to 500 characters") }
        let holding = try await storeCall { () throws(StoreError) in try await store.holdings([itemID]) }[0]
        guard holding.status != .destroyed else { throw FederationError(.refused, "the item was destroyed already") }
        let certificate = DestructionCertificate(
            id: "\(party.code.lowercased())-destruction-\(UUID().uuidString.prefix(8).lowercased())", request: request ?? "the holder's own decision",
            holder: party, originator: holding.originator, itemDigest: holding.digest, destroyedAt: clock(), method: "\(text) (by \(officer))")
        let signed: Signed<DestructionCertificate>
        do { signed = try Signed(signing: certificate, with: signing) } catch {
            throw FederationError(.unavailable, "the certificate cannot be signed: \(error)")
        }
        return try await destroy(itemID, certificate: signed)
    }
}

extension Federation {
    /// A lifecycle act of this node's party on one of its agreements (Art
    /// 21): a termination notice, its suspension, lifting or withdrawal, an
    /// amendment, a mutual termination, entry into force. Signed here,
    /// checked against the agreement's rules as they stand now (a refusal
    /// names its article and changes nothing), recorded, and sent to every
    /// other party of the agreement.
    @discardableResult
    public func issueStatement(
        agreement id: Agreement.ID, act: LifecycleStatement.Act, note: String? = nil, by officer: String
    ) async throws(FederationError) -> (statement: Signed<StatementDocument>, entry: Int, tasks: [StatementTask]) {
        guard let lifecycle = book[id], lifecycle.agreement.isParty(party) else {
            throw FederationError(.notFound, "\(party) is not a party to an agreement \(id.prefix(80)) known here")
        }
        let now = clock()
        let statement = LifecycleStatement(
            id: "\(party.code.lowercased())-\(act.name)-\(UUID().uuidString.prefix(8).lowercased())", agreement: id, party: party, at: now,
            act: act, note: note)
        let signed: Signed<StatementDocument>
        do { signed = try Signed(signing: StatementDocument(statement), with: signing) } catch {
            throw FederationError(.unavailable, "the statement cannot be signed: \(error)")
        }
        let others = lifecycle.agreement.partyCodes.filter { $0 != party }
        let missing = try await unreachable(others)
        guard missing.isEmpty else {
            let names = missing.map(\.code).joined(separator: ", ")
            throw FederationError(
                .refused, "a statement on \(id) must reach every other party, and no peer \(names) is configured on this node: it is not issued")
        }
        guard let (entry, tasks) = try await record(signed, from: nil, by: officer, sendingTo: others) else {
            throw FederationError(.refused, "statement \(statement.id) is already recorded")
        }
        return (signed, entry, tasks)
    }
}

// MARK: Consent requests (Art 6(a))

extension Federation {
    /// A holder's request that the originator consent to its passing an
    /// item to `thirdParty`: signed here, recorded (pending) and sent to the
    /// originator, whose releasing officers grant or deny it.
    @discardableResult
    public func requestConsent(
        itemID: [UInt8], thirdParty: Party, purpose: String?, reason: String, by officer: String
    ) async throws(FederationError) -> (request: ConsentRequestRecord, tasks: [StatementTask]) {
        let now = clock()
        let text = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        // Bounded in bytes, as the request's wire form and the stores bound it (with room for the officer's name).
        guard (1...1800).contains(text.utf8.count) else { throw FederationError(.malformed, "a request gives its reason in 1 to 1800 bytes of text") }
        if let p = purpose, !(1...200).contains(p.utf8.count) { throw FederationError(.malformed, "a purpose has 1 to 200 bytes of text") }
        let holding = try await storeCall { () throws(StoreError) in try await store.holdings([itemID]) }[0]
        guard holding.originator != party else {
            throw FederationError(.refused, "\(party) originated this item; its own releases need no consent")
        }
        guard holding.status == .held else { throw FederationError(.refused, "the item is \(holding.status.rawValue)") }
        guard thirdParty != party, thirdParty != holding.originator else {
            throw FederationError(.refused, "the third party is another party than \(party) and the originator \(holding.originator)")
        }
        let body = ConsentRequestBody(
            id: "\(party.code.lowercased())-consent-request-\(UUID().uuidString.prefix(8).lowercased())", holder: party, originator: holding.originator,
            itemDigest: holding.digest, thirdParty: thirdParty, purpose: purpose, at: now, reason: "\(text) (asked by \(officer))")
        let signed: Signed<ConsentRequestBody>
        do { signed = try Signed(signing: body, with: signing) } catch { throw FederationError(.unavailable, "the request cannot be signed: \(error)") }
        let record = ConsentRequestRecord(
            id: body.id, direction: .sent, holder: party, originator: holding.originator, thirdParty: thirdParty, itemID: itemID, itemDigest: holding.digest,
            purpose: purpose, reason: body.reason, at: now, signed: signed.derBytes)
        let entry = LedgerEntry(
            kind: .consentRequested, at: now, party: holding.originator, subjects: [holding.digest],
            detail: "\(body.id): may \(party) pass it to \(thirdParty)? asked by \(officer)")
        guard try await unreachable([holding.originator]).isEmpty else {
            throw FederationError(.refused, "no peer \(holding.originator) is configured on this node: the request could not be sent to the originator")
        }
        let (requests, queued) = Self.queued([.consentRequest(signed, itemID: itemID)], to: [holding.originator], at: now)
        let tasks = try await storeCall { () throws(StoreError) in
            try await store.recordConsentRequest(record, ledger: LedgerWrite([entry] + queued, sign: signer), statements: requests)
        }.tasks
        wake.signal(holding.originator)
        return (record, tasks)
    }

    /// The originator's answer to a holder's request received here: a
    /// grant signs the consent (``grantConsent(itemID:holder:thirdParty:purpose:expires:by:)``)
    /// and sends it; a denial is signed and sent with its reason. Either way
    /// the request is answered once.
    @discardableResult
    public func answerConsentRequest(
        _ id: String, grantFor days: Int? = nil, denyBecause reason: String? = nil, by officer: String
    ) async throws(FederationError) -> (request: ConsentRequestRecord, tasks: [StatementTask]) {
        try await answersLock.withLock { () throws(FederationError) in try await answer(id, grantFor: days, denyBecause: reason, by: officer) }
    }

    private func answer(
        _ id: String, grantFor days: Int?, denyBecause reason: String?, by officer: String
    ) async throws(FederationError) -> (request: ConsentRequestRecord, tasks: [StatementTask]) {
        let request: ConsentRequestRecord
        do { request = try await store.consentRequest(id) } catch where error.code == .notFound {
            throw FederationError(.notFound, "no consent request \(id.prefix(80)) is known here")
        } catch { throw FederationError(error) }
        guard request.direction == .received else { throw FederationError(.refused, "request \(id) was sent by this node; its originator answers it") }
        guard request.state == .pending else { throw FederationError(.refused, "request \(id) is \(request.state.rawValue) already") }
        let now = clock()
        switch (days, reason) {
        case (let days?, nil):
            guard (1...366).contains(days) else { throw FederationError(.malformed, "a consent lasts 1 to 366 days, not \(days)") }
            let (consent, given) = try await makeConsent(
                itemID: request.itemID, holder: request.holder, thirdParty: request.thirdParty, purpose: request.purpose,
                expires: now.addingTimeInterval(TimeInterval(days) * 86_400), by: officer)
            let consentID = consent.body.consent.id
            let entry = LedgerEntry(
                kind: .consentGiven, at: now, party: request.holder, subjects: [request.itemDigest], detail: "\(id) granted: \(consentID), by \(officer)")
            // The answer, the consent and its queueing in one write: never one without the others.
            let (requests, queued) = Self.queued([.consent(consent)], to: [request.holder], at: now)
            let answered = try await storeCall { () throws(StoreError) in
                try await store.answerConsentRequest(
                    id, .granted, answer: consentID, at: now, ledger: LedgerWrite([given, entry] + queued, sign: signer), statements: requests)
            }
            wake.signal(request.holder)
            return (try await storeCall { () throws(StoreError) in try await store.consentRequest(id) }, answered.tasks)
        case (nil, let reason?):
            let text = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...2000).contains(text.utf8.count) else { throw FederationError(.malformed, "a denial gives its reason in 1 to 2000 bytes of text") }
            let body = ConsentDenialBody(
                id: "\(party.code.lowercased())-consent-denial-\(UUID().uuidString.prefix(8).lowercased())", request: id, originator: party,
                holder: request.holder, itemDigest: request.itemDigest, thirdParty: request.thirdParty, at: now, reason: text)
            let signed: Signed<ConsentDenialBody>
            do { signed = try Signed(signing: body, with: signing) } catch { throw FederationError(.unavailable, "the denial cannot be signed: \(error)") }
            let entry = LedgerEntry(
                kind: .consentDenied, at: now, party: request.holder, subjects: [request.itemDigest], detail: "\(id) denied by \(officer): \(text)")
            // The answer and the denial's queueing in one write: the holder always hears it.
            let (requests, queued) = Self.queued([.consentDenial(signed, itemID: request.itemID)], to: [request.holder], at: now)
            let answered = try await storeCall { () throws(StoreError) in
                try await store.answerConsentRequest(id, .denied, answer: text, at: now, ledger: LedgerWrite([entry] + queued, sign: signer), statements: requests)
            }
            wake.signal(request.holder)
            return (try await storeCall { () throws(StoreError) in try await store.consentRequest(id) }, answered.tasks)
        default:
            throw FederationError(.malformed, "an answer either grants for a number of days or denies with a reason")
        }
    }
}

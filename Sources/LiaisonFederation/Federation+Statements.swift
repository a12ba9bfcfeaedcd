internal import Crypto
public import Foundation
internal import LiaisonLedger
public import LiaisonModel
public import LiaisonSealing
public import LiaisonStore
internal import Logging
internal import Synchronization

extension Federation {
    /// What became of one statement sent to a peer.
    public enum StatementOutcome: Hashable, Sendable {
        /// Recorded by the peer: its entry and tree size (the receipt).
        case recorded(entry: Int, treeSize: Int)
        case refused(String)
    }

    // MARK: Lifecycle statements issued or learnt here

    /// Applies a signed lifecycle statement to this node's agreements:
    /// checked against the signer's pinned key and the agreement's rules
    /// (Art 21), stored, in the ledger, and every later decision uses it.
    /// Returns the ledger entry recording it, or nil if it was known.
    @discardableResult
    public func record(_ signed: Signed<StatementDocument>, from peer: Party? = nil, by officer: String? = nil) async throws(FederationError) -> Int? {
        try await record(signed, from: peer, by: officer, sendingTo: [])?.entry
    }

    /// Records a statement as ``record(_:from:by:)`` does and queues it for
    /// `peers` in the same transaction: one this node issues is never in
    /// force here without being on its way to the other parties.
    func record(
        _ signed: Signed<StatementDocument>, from peer: Party?, by officer: String?, sendingTo peers: [Party]
    ) async throws(FederationError) -> (entry: Int, tasks: [StatementTask])? {
        let statement: LifecycleStatement
        do { statement = try signed.verified(by: trust).statement } catch {
            throw FederationError(.refused, "the statement does not verify against its signer's pinned key: \(error.reason)")
        }
        // One change at a time, each on the agreements as the last one left them.
        return try await statementsLock.withLock { () throws(FederationError) -> (entry: Int, tasks: [StatementTask])? in
            guard let current = book[statement.agreement] else {
                throw FederationError(.refused, "no agreement \(statement.agreement) is known to this node")
            }
            if current.accepted.contains(statement) { return nil }
            let next = AgreementLifecycle(agreement: current.agreement, statements: current.accepted + [statement])
            if let refused = next.refused.first(where: { $0.statement == statement }) {
                throw FederationError(.refused, "\(refused.refusal.article): \(refused.refusal.reason)", refusal: refused.refusal)
            }
            let digest = Array(SHA256.hash(data: signed.derBytes))
            let entry = LedgerEntry(
                kind: .lifecycleStatement, at: clock(), party: peer ?? statement.party, subjects: [digest],
                detail: "\(statement.agreement): \(statement.id) by \(statement.party)\(peer.map { ", received from \($0)" } ?? "")"
                    + (officer.map { ", issued by \($0)" } ?? ""))
            let now = clock()
            let (requests, queued) = Self.queued([.lifecycle(signed)], to: peers, at: now)
            // The entry's index is the size the head is signed at, less the entries written with it.
            let signedHead = SignedHeadBox()
            let sign = signer
            let tasks = try await storeCall { () throws(StoreError) in
                try await store.recordStatements(
                    [StoredStatement(digest: digest, agreement: statement.agreement, party: statement.party, act: statement.act.name, at: statement.at, signed: signed.derBytes)],
                    ledger: LedgerWrite([entry] + queued, sign: { size, root in
                        let h = try sign(size, root)
                        signedHead.set(h)
                        return h
                    }), sending: requests, at: now)
            }.tasks
            update(next)
            for p in peers { wake.signal(p) }
            guard let head = signedHead.value else { throw FederationError(.unavailable, "no tree head was signed for the statement") }
            return (head.body.size - 1 - queued.count, tasks)
        }
    }

    /// The parties among `parties` this node has no peer for: a statement to them could never be sent.
    func unreachable(_ parties: [Party]) async throws(FederationError) -> [Party] {
        guard !parties.isEmpty else { return [] }
        let known = Set(try await storeCall { () throws(StoreError) in try await store.peers() }.map(\.party))
        return parties.filter { !known.contains($0) }
    }

    func ledgerSize() async throws(FederationError) -> Int { try await storeCall { () throws(StoreError) in try await store.size() } }

    // MARK: Sending statements (queued: a peer that is away gets them when it is back)

    /// Queues signed statements for peers; the senders deliver them and
    /// keep each peer's proven acknowledgement. Until then they are listed
    /// as unacknowledged (``unacknowledgedStatements(olderThan:)``).
    @discardableResult
    public func publish(
        _ statements: [StatementBundle.Statement], to peers: [Party], recording acts: [LedgerEntry] = []
    ) async throws(FederationError) -> [StatementTask] {
        let now = clock()
        let (requests, entries) = Self.queued(statements, to: peers, at: now)
        let tasks = try await storeCall { () throws(StoreError) in
            try await store.enqueueStatements(requests, at: now, ledger: LedgerWrite(acts + entries, sign: signer))
        }
        for p in peers { wake.signal(p) }
        return tasks
    }

    /// The queue's requests for `statements` to each of `peers`, with the ledger entry of each.
    static func queued(_ statements: [StatementBundle.Statement], to peers: [Party], at now: Date) -> ([StatementRequest], [LedgerEntry]) {
        var requests: [StatementRequest] = []
        var entries: [LedgerEntry] = []
        for p in peers {
            for st in statements {
                requests.append(StatementRequest(peer: p, kind: st.kind.rawValue, signed: st.signed, itemID: st.itemID))
                entries.append(
                    LedgerEntry(kind: .itemSent, at: now, party: p, subjects: [Array(SHA256.hash(data: st.signed))], detail: "\(st.kind) statement queued for \(p)"))
            }
        }
        return (requests, entries)
    }

    /// Statements queued for peers and not yet acknowledged, oldest first,
    /// with how long each has waited: those waiting longer than `olderThan` are overdue.
    public func unacknowledgedStatements(olderThan: TimeInterval = 0) async throws(FederationError) -> [(task: StatementTask, waiting: TimeInterval)] {
        let now = clock()
        return try await storeCall { () throws(StoreError) in try await store.unacknowledgedStatements(peer: nil) }
            .map { ($0, now.timeIntervalSince($0.queuedAt)) }.filter { $0.waiting >= olderThan }
    }

    /// Sends a peer's due statements in one bundle and settles each from
    /// the peer's verified reply. Returns how many were settled.
    public func sendStatementsOnce(to peer: Party, over transport: any PeerTransport) async throws(FederationError) -> Int {
        let record = try await storeCall { () throws(StoreError) in try await store.peer(peer) }
        if record.alarm != nil { return 0 }
        let now = clock()
        let tasks = try await storeCall { () throws(StoreError) in
            try await store.claimStatements(peer: peer, owner: owner, limit: 100, now: now, lease: configuration.lease)
        }
        guard !tasks.isEmpty else { return 0 }
        var settled: [SettledTask] = []
        var entries: [LedgerEntry] = []
        do {
            let statements = try tasks.map { t throws(FederationError) in
                guard let kind = StatementBundle.Kind(rawValue: t.kind) else { throw FederationError(.malformed, "unknown statement kind \(t.kind)") }
                return StatementBundle.Statement(kind: kind, signed: t.signed, itemID: t.itemID)
            }
            let outcomes = try await deliver(statements, to: peer, over: transport)
            for (t, (s, o)) in zip(tasks, zip(statements, outcomes)) {
                let digest = Array(SHA256.hash(data: s.signed))
                switch o {
                case .none:
                    settled.append(
                        SettledTask(id: t.id, outcome: .retry(error: "\(peer)'s reply has no verifiable outcome for it", notBefore: backoff(attempts: t.attempts, from: now))))
                case .some((.recorded(let entry, let size), let proof)):
                    settled.append(SettledTask(id: t.id, outcome: .delivered(receipt: proof.derBytes)))
                    entries.append(
                        LedgerEntry(kind: .receiptStored, at: clock(), party: peer, subjects: [digest], detail: "\(s.kind) statement acknowledged by \(peer): entry \(entry) of \(size)"))
                case .some((.refused(let reason), _)) where reason.contains(" statement deferred: "):
                    settled.append(SettledTask(id: t.id, outcome: .retry(error: PeerText.clean(reason), notBefore: backoff(attempts: t.attempts, from: now))))
                case .some((.refused(let reason), _)):
                    let clean = PeerText.clean(reason, max: 2000)
                    settled.append(SettledTask(id: t.id, outcome: .refused(reason: clean)))
                    entries.append(LedgerEntry(kind: .itemRefused, at: clock(), party: peer, subjects: [digest], detail: "\(s.kind) statement refused by \(peer): \(clean)"))
                }
            }
        } catch {
            let reason = PeerText.clean(error.reason)
            state.withLock { $0.lastError[peer] = "\(RFC3339.format(clock())): \(reason)" }
            settled = tasks.map { SettledTask(id: $0.id, outcome: .retry(error: reason, notBefore: backoff(attempts: $0.attempts, from: now))) }
        }
        _ = try await storeCall { () throws(StoreError) in
            try await store.settleStatements(settled, owner: owner, at: clock(), ledger: LedgerWrite(entries, sign: entries.isEmpty ? nil : signer))
        }
        return entries.count
    }

    /// Sends statements and verifies the peer's reply like a batch's
    /// (signed head, consistency, inclusion of each entry).
    private func deliver(_ statements: [StatementBundle.Statement], to peer: Party, over transport: any PeerTransport) async throws(FederationError)
        -> [(outcome: StatementOutcome, proof: ReceiptProof)?]
    {
        let bundle = StatementBundle(from: party, statements: statements)
        let replyBytes = try await transport.sendStatements(bundle.derBytes)
        let reply: BatchReply
        do { reply = try BatchReply(canonical: replyBytes) } catch {
            throw FederationError(.unverifiable, "\(peer)'s reply does not decode: \(error.reason)")
        }
        let head: TreeHead
        do throws(SealingError) {
            head = try reply.treeHead.verified(by: trust)
            guard head.party == peer, reply.receiver == peer else { throw SealingError(.wrongSigner, "the reply is not \(peer)'s") }
        } catch {
            throw await alarm(peer, "answered statements with a tree head that does not verify: \(error.reason)")
        }
        if try await !observe(reply.treeHead, of: peer, over: transport, latest: false) {
            try? await store.keepPeerTreeHead(peer, size: head.size, signed: reply.treeHead.derBytes)
        }
        let byNumber = Dictionary(reply.outcomes.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
        return statements.enumerated().map { i, s in
            let digest = Array(SHA256.hash(data: s.signed))
            guard let o = byNumber[i + 1], o.itemDigest == digest,
                MerkleHash.root(fromLeaf: MerkleHash.leaf(o.entry), index: o.leafIndex, size: head.size, path: o.path) == head.root,
                let entry = try? LedgerEntry(canonical: o.entry), entry.subjects.first == digest, entry.party == party
            else { return nil }
            let proof = ReceiptProof(receiver: peer, entry: o.entry, leafIndex: o.leafIndex, path: o.path, treeSize: head.size)
            return (entry.kind == .itemRefused ? .refused(entry.detail) : .recorded(entry: o.leafIndex, treeSize: head.size), proof)
        }
    }

    /// Reports the loss or compromise of a held item (Art 17): marked
    /// compromised here at once, the report queued for the originator.
    @discardableResult
    public func reportCompromise(_ signed: Signed<CompromiseReport>, itemID: [UInt8]) async throws(FederationError) -> [StatementTask] {
        let report: CompromiseReport
        do { report = try signed.verified(by: trust) } catch {
            throw FederationError(.refused, "the report does not verify against this node's key: \(error.reason)")
        }
        guard report.reporter == party else { throw FederationError(.refused, "the report is \(report.reporter)'s, not this node's") }
        let item = try await storeCall { () throws(StoreError) in try await store.item(itemID) }
        guard report.itemDigests.contains(item.manifest.digest) else { throw FederationError(.refused, "the report does not name item \(Hex.encode(itemID))") }
        let entry = LedgerEntry(
            kind: .compromiseReported, at: clock(), party: report.originator, subjects: [item.manifest.digest],
            detail: "\(report.id) stage \(report.stage): \(report.description)")
        let to = report.originator == party ? [] : [report.originator]
        return try await changeHolding(
            itemID, .compromised(report: signed.derBytes), entry, telling: to,
            [StatementBundle.Statement(kind: .compromiseReport, signed: signed.derBytes, itemID: itemID)])
    }

    /// Records a change to a held item and queues the statements that report
    /// it to `parties`, in one transaction (none queued when `parties` is
    /// empty). The change is this node's own act on its copy and is made
    /// even when a party has no peer here (an item that came through the
    /// hub from an originator this node does not exchange with directly):
    /// its ledger entry then says who could not be told.
    func changeHolding(
        _ itemID: [UInt8], _ change: HoldingChange, _ entry: LedgerEntry, telling parties: [Party], _ statements: [StatementBundle.Statement]
    ) async throws(FederationError) -> [StatementTask] {
        let now = clock()
        let missing = try await unreachable(parties)
        let peers = parties.filter { !missing.contains($0) }
        var entry = entry
        if !missing.isEmpty {
            let names = missing.map(\.code).joined(separator: ", ")
            entry.detail += " (not sent to \(names): no peer \(names) is configured on this node)"
            logger.warning("a statement about an item was not queued: no peer configured", metadata: ["parties": "\(names)"])
        }
        let (requests, queued) = Self.queued(statements, to: peers, at: now)
        let tasks = try await storeCall { () throws(StoreError) in
            try await store.changeHolding(itemID, change, at: now, ledger: LedgerWrite([entry] + queued, sign: signer), statements: requests)
        }.tasks
        for p in peers { wake.signal(p) }
        return tasks
    }

    /// Destroys a held item (Art 6(h), 13): the payload erased here, the
    /// signed certificate kept and queued for the originator.
    @discardableResult
    public func destroy(_ itemID: [UInt8], certificate signed: Signed<DestructionCertificate>) async throws(FederationError) -> [StatementTask] {
        let certificate: DestructionCertificate
        do { certificate = try signed.verified(by: trust) } catch {
            throw FederationError(.refused, "the certificate does not verify against this node's key: \(error.reason)")
        }
        guard certificate.holder == party else { throw FederationError(.refused, "the certificate is \(certificate.holder)'s, not this node's") }
        let item = try await storeCall { () throws(StoreError) in try await store.item(itemID) }
        guard item.manifest.digest == certificate.itemDigest, item.holding.originator == certificate.originator else {
            throw FederationError(.refused, "the certificate does not name item \(Hex.encode(itemID)) of \(item.holding.originator)")
        }
        let entry = LedgerEntry(
            kind: .destroyed, at: clock(), party: certificate.originator, subjects: [certificate.itemDigest],
            detail: "\(certificate.id) (request \(certificate.request)): \(certificate.method)")
        let to = certificate.originator == party ? [] : [certificate.originator]
        return try await changeHolding(itemID, .destroyed(certificate: signed.derBytes), entry, telling: to, [.destructionCertificate(signed, itemID: itemID)])
    }

    // MARK: Receiving statements

    /// Receives a peer's statements: each is checked against its signer's
    /// pinned key and the rules for its kind, applied, and recorded (or
    /// refused, and recorded as refused); the reply proves every outcome.
    public func receiveStatements(_ bytes: [UInt8], from peer: Party) async throws(FederationError) -> BatchReply {
        let now = clock()
        let bundle: StatementBundle
        do { bundle = try StatementBundle(canonical: bytes) } catch {
            throw await refuseBatch(bytes, from: peer, at: now, FederationError(.malformed, "the statements do not decode: \(error.reason)"))
        }
        guard bundle.from == peer else {
            throw await refuseBatch(bytes, from: peer, at: now, FederationError(.wrongPeer, "the statements are \(bundle.from)'s; the connection is \(peer)'s"))
        }
        guard !bundle.statements.isEmpty, bundle.statements.count <= 1000 else {
            throw await refuseBatch(bytes, from: peer, at: now, FederationError(.oversized, "a bundle carries 1 to 1000 statements"))
        }
        let record = try await storeCall { () throws(StoreError) in try await store.peer(peer) }
        if let alarm = alarm(of: peer, stored: record.alarm) { throw FederationError(.alarm, "exchange with \(peer) is stopped: \(alarm)") }
        var outcomes: [(digest: [UInt8], index: Int)] = []
        for s in bundle.statements {
            let digest = Array(SHA256.hash(data: s.signed))
            // A statement received before (its reply lost) is answered with its
            // first entry. It is known by all the receiver acts on: its kind and
            // item id travel beside the signature, so a copy with another kind
            // is another statement, and its refusal is not the genuine one's.
            let receipt = Self.receiptKey(s)
            if let earlier = try await storeCall({ () throws(StoreError) in try await store.statementReceipt(peer: peer, digest: receipt) }) {
                outcomes.append((digest, earlier))
                continue
            }
            var index: Int
            var final = true
            do {
                index = try await apply(s, digest: digest, from: peer, at: now)
            } catch where error.code == .unavailable {
                throw error
            } catch {
                // An item not (yet) held here may arrive later: deferred, not refused.
                final = error.code != .notFound
                let what = final ? "refused" : "deferred"
                let entry = LedgerEntry(
                    kind: .itemRefused, at: now, party: peer, subjects: [digest], detail: PeerText.clean("\(s.kind) statement \(what): \(error.reason)", max: 2000))
                count(refusal: error.refusal?.code.name ?? "statement")
                index = try await storeCall { () throws(StoreError) in try await store.append([entry], sign: signer) }.lowerBound
            }
            if final {
                try await storeCall { () throws(StoreError) in try await store.keepStatementReceipt(peer: peer, digest: receipt, ledgerIndex: index) }
            }
            outcomes.append((digest, index))
        }
        guard let head = try await storeCall({ () throws(StoreError) in try await store.latestTreeHead() }) else {
            throw FederationError(.unavailable, "this node's ledger has no signed tree head")
        }
        var out: [BatchReply.Outcome] = []
        for (i, o) in outcomes.enumerated() {
            let (entry, path) = try await storeCall { () throws(StoreError) in
                (try await store.entry(at: o.index), try await store.inclusionProof(index: o.index, size: head.body.size))
            }
            out.append(BatchReply.Outcome(sequence: i + 1, itemDigest: o.digest, entry: entry.derBytes, leafIndex: o.index, path: AuditPath(path)))
        }
        return BatchReply(receiver: party, treeHead: head, outcomes: out)
    }

    /// What a received statement is remembered by: its kind, its item id and its signed bytes.
    static func receiptKey(_ s: StatementBundle.Statement) -> [UInt8] {
        var h = SHA256()
        h.update(data: Array("liaison/v1/statement-receipt".utf8) + [0, UInt8(truncatingIfNeeded: s.kind.rawValue)])
        h.update(data: [UInt8(s.itemID?.count ?? 0)] + (s.itemID ?? []))
        h.update(data: s.signed)
        return Array(h.finalize())
    }

    /// Applies one statement; returns the index of the ledger entry recording it.
    private func apply(_ s: StatementBundle.Statement, digest: [UInt8], from peer: Party, at now: Date) async throws(FederationError) -> Int {
        func decode<B: StatementBody>(_ type: B.Type) throws(FederationError) -> (Signed<B>, B) {
            do {
                let signed = try Signed<B>(canonical: s.signed)
                return (signed, try signed.verified(by: trust))
            } catch {
                throw FederationError(.refused, "the \(B.structureName) does not verify against its signer's pinned key: \(error.reason)")
            }
        }
        func append(_ kind: LedgerEntry.Kind, _ detail: String) async throws(FederationError) -> Int {
            let entry = LedgerEntry(kind: kind, at: now, party: peer, subjects: [digest], detail: PeerText.clean(detail, max: 4000))
            return try await storeCall { () throws(StoreError) in try await store.append([entry], sign: signer) }.lowerBound
        }
        func heldItem(_ itemDigest: [UInt8]) async throws(FederationError) -> StoredItem {
            guard let id = s.itemID else { throw FederationError(.refused, "the statement does not name the item's id") }
            let item: StoredItem
            do { item = try await store.item(id) } catch { throw FederationError(.notFound, "this node holds no item \(Hex.encode(id))") }
            guard item.manifest.digest == itemDigest else { throw FederationError(.refused, "item \(Hex.encode(id)) is not the item the statement names") }
            return item
        }
        switch s.kind {
        case .lifecycle:
            let (signed, body) = try decode(StatementDocument.self)
            if let index = try await record(signed, from: peer) { return index }
            return try await append(.lifecycleStatement, "\(body.statement.agreement): \(body.statement.id) by \(body.statement.party), already recorded")
        case .consent:
            let (signed, body) = try decode(ConsentBody.self)
            let c = body.consent
            guard c.originator == peer else { throw FederationError(.refused, "the consent is \(c.originator)'s, sent by \(peer)") }
            guard c.holder == party else { throw FederationError(.refused, "the consent is for the holder \(c.holder), not \(party)") }
            let detail =
                "consent \(c.id) by \(c.originator): \(c.holder) may release item \(c.itemDigest.prefix(16))… to \(c.thirdParty) until \(RFC3339.format(c.expiresAt))"
            guard let itemDigest = Hex.decode(c.itemDigest) else { throw FederationError(.refused, "the consent's item digest is not hexadecimal") }
            // Kept, so that this node's releases to the third party carry it.
            let kept = StoredConsent(
                id: c.id, originator: c.originator, itemDigest: itemDigest, holder: c.holder, thirdParty: c.thirdParty, expiresAt: c.expiresAt,
                receivedAt: now, signed: signed.derBytes)
            let entry = LedgerEntry(kind: .consentGiven, at: now, party: peer, subjects: [digest, itemDigest], detail: PeerText.clean(detail, max: 4000))
            let index: Int
            do {
                index = try await store.keepConsent(kept, ledger: LedgerWrite([entry], sign: signer)).entries.lowerBound
            } catch where error.code == .conflict {
                index = try await append(.consentGiven, detail + ", kept already")
            } catch {
                // What cannot be kept as it stands is refused; a store outage is retried (FederationError(StoreError)).
                throw FederationError(error)
            }
            // It answers this node's pending requests for the same item and third party
            // (again when the consent is sent again after an outage here).
            let asked = try await storeCall { () throws(StoreError) in try await store.consentRequests(state: .pending, itemDigest: itemDigest, limit: 1000) }
            for r in asked where r.direction == .sent && r.originator == c.originator && r.thirdParty == c.thirdParty {
                let answered = LedgerEntry(kind: .consentGiven, at: now, party: peer, subjects: [itemDigest], detail: "\(r.id) granted: \(c.id)")
                do {
                    _ = try await store.answerConsentRequest(r.id, .granted, answer: c.id, at: now, ledger: LedgerWrite([answered], sign: signer))
                } catch where error.code == .conflict {
                    continue  // answered meanwhile
                } catch { throw FederationError(error) }
            }
            return index
        case .reclassification:
            let (signed, notice) = try decode(ReclassificationNotice.self)
            let item = try await heldItem(notice.itemDigest)
            let label = item.holding.label
            guard notice.originator == label.originator else {
                throw FederationError(.refused, "\(Article.reclassification): only the originator \(label.originator) reclassifies its items")
            }
            // Applied already (a retry after a crash): acknowledged again, not applied twice.
            if label.level == notice.newLevel,
                try await storeCall({ () throws(StoreError) in try await store.holdingEvents(item.holding.itemID) }).contains(where: { $0.evidence == signed.derBytes })
            {
                return try await append(.reclassified, "\(notice.id): \(notice.oldLevel) → \(notice.newLevel) by \(notice.originator), already applied")
            }
            guard label.level == notice.oldLevel else {
                throw FederationError(.refused, "the item is at \(label.level) here, not \(notice.oldLevel) as the notice says")
            }
            let newLabel: SecurityLabel
            do {
                newLabel = try SecurityLabel(
                    policy: label.policy, originator: label.originator, level: notice.newLevel, releasableTo: label.releasableTo,
                    categories: label.categories, purpose: label.purpose, created: label.created, review: label.review)
            } catch { throw FederationError(.refused, "the new label is not valid: \(error)") }
            // Art 4: this node re-marks it in its own scheme under the agreement it came by.
            var marked = ""
            if case .received(_, let agreementID) = item.holding.source, let agreement = book[agreementID]?.agreement {
                switch DualMarking.make(agreement: agreement, originator: label.originator, level: notice.newLevel, receiver: party) {
                case .success(let m): marked = ", re-marked \(m.receiverLevel.marking)"
                case .failure(let r): throw FederationError(.refused, "\(r.article): \(r.reason)", refusal: r)
                }
            }
            let entry = LedgerEntry(
                kind: .reclassified, at: now, party: peer, subjects: [digest, notice.itemDigest],
                detail: "\(notice.id): \(notice.oldLevel) → \(notice.newLevel) by \(notice.originator)\(marked), acknowledged")
            return try await storeCall { () throws(StoreError) in
                try await store.changeHolding(item.holding.itemID, .reclassified(newLabel, notice: signed.derBytes), at: now, ledger: LedgerWrite([entry], sign: signer))
            }.entries.lowerBound
        case .destructionRequest:
            let (_, request) = try decode(DestructionRequest.self)
            guard request.holder == party else { throw FederationError(.refused, "the request is for \(request.holder), not \(party)") }
            let item = try await heldItem(request.itemDigest)
            guard request.originator == item.holding.originator else {
                throw FederationError(.refused, "only the originator \(item.holding.originator) may ask for the destruction of its item")
            }
            return try await append(.destroyed, "destruction requested by \(request.originator) (\(request.id)): \(request.reason); awaiting a security officer")
        case .destructionCertificate:
            let (_, certificate) = try decode(DestructionCertificate.self)
            guard certificate.originator == party, certificate.holder == peer else {
                throw FederationError(.refused, "the certificate is \(certificate.holder)'s about \(certificate.originator)'s item")
            }
            let item = try await heldItem(certificate.itemDigest)
            guard item.holding.source == .originated else { throw FederationError(.refused, "the certificate names an item this node did not originate") }
            return try await append(
                .destroyed, "destruction certified by \(certificate.holder) (\(certificate.id), request \(certificate.request)): \(certificate.method)")
        case .consentRequest:
            let (signed, request) = try decode(ConsentRequestBody.self)
            guard request.holder == peer else { throw FederationError(.refused, "the request is \(request.holder)'s, sent by \(peer)") }
            guard request.originator == party else { throw FederationError(.refused, "the request is for the originator \(request.originator), not \(party)") }
            // Each holder names its own requests, so that one party's ids cannot take another's.
            guard request.id.hasPrefix(peer.code.lowercased() + "-") else {
                throw FederationError(.refused, "a request from \(peer) has an id starting \(peer.code.lowercased())-")
            }
            let item = try await heldItem(request.itemDigest)
            guard item.holding.label.originator == party else { throw FederationError(.refused, "\(party) did not originate this item") }
            let detail = "\(request.id): may \(request.holder) pass it to \(request.thirdParty)? \(request.reason)"
            let record = ConsentRequestRecord(
                id: request.id, direction: .received, holder: request.holder, originator: party, thirdParty: request.thirdParty,
                itemID: item.holding.itemID, itemDigest: request.itemDigest, purpose: request.purpose, reason: request.reason, at: request.at,
                signed: signed.derBytes)
            let entry = LedgerEntry(
                kind: .consentRequested, at: now, party: peer, subjects: [digest, request.itemDigest], detail: PeerText.clean(detail, max: 4000))
            do {
                return try await store.recordConsentRequest(record, ledger: LedgerWrite([entry], sign: signer)).entries.lowerBound
            } catch where error.code == .conflict {
                return try await append(.consentRequested, detail + ", recorded already")
            } catch { throw FederationError(error) }
        case .consentDenial:
            let (_, denial) = try decode(ConsentDenialBody.self)
            guard denial.originator == peer else { throw FederationError(.refused, "the denial is \(denial.originator)'s, sent by \(peer)") }
            guard denial.holder == party else { throw FederationError(.refused, "the denial is for the holder \(denial.holder), not \(party)") }
            let request: ConsentRequestRecord
            do { request = try await store.consentRequest(denial.request) } catch where error.code == .notFound {
                throw FederationError(.refused, "this node sent no consent request \(denial.request)")
            } catch { throw FederationError(error) }
            guard request.direction == .sent, request.originator == peer, request.itemDigest == denial.itemDigest, request.thirdParty == denial.thirdParty
            else { throw FederationError(.refused, "the denial does not answer request \(request.id) as this node sent it") }
            let detail = "\(denial.request) denied by \(peer): \(denial.reason)"
            guard request.state == .pending else { return try await append(.consentDenied, detail + ", answered already") }
            let entry = LedgerEntry(kind: .consentDenied, at: now, party: peer, subjects: [digest, denial.itemDigest], detail: PeerText.clean(detail, max: 4000))
            return try await storeCall { () throws(StoreError) in
                try await store.answerConsentRequest(request.id, .denied, answer: PeerText.clean(denial.reason, max: 2000), at: now, ledger: LedgerWrite([entry], sign: signer))
            }.entries.lowerBound
        case .compromiseReport:
            let (signed, report) = try decode(CompromiseReport.self)
            guard report.reporter == peer else { throw FederationError(.refused, "the report is \(report.reporter)'s, sent by \(peer)") }
            guard report.originator == party else { throw FederationError(.refused, "the report is for the originator \(report.originator), not \(party)") }
            let detail = "\(report.id) stage \(report.stage) by \(report.reporter): \(report.itemDigests.count) item(s): \(report.description)"
            // Kept with this node's copy of the item, where it holds the item
            // as its originator, so that the incidents list shows it.
            guard let id = s.itemID else { return try await append(.compromiseReported, detail) }
            let holding: LiaisonStore.Holding
            do { holding = try await store.holdings([id])[0] } catch where error.code == .notFound {
                return try await append(.compromiseReported, detail)
            } catch { throw FederationError(error) }
            guard report.itemDigests.contains(holding.digest), holding.originator == party, holding.status != .destroyed else {
                return try await append(.compromiseReported, detail)
            }
            let events = try await storeCall { () throws(StoreError) in try await store.holdingEvents(id) }
            if events.contains(where: { $0.evidence == signed.derBytes }) { return try await append(.compromiseReported, detail + ", already recorded") }
            let entry = LedgerEntry(
                kind: .compromiseReported, at: now, party: peer, subjects: [digest, holding.digest], detail: PeerText.clean(detail, max: 4000))
            return try await storeCall { () throws(StoreError) in
                try await store.changeHolding(id, .compromiseReported(report: signed.derBytes), at: now, ledger: LedgerWrite([entry], sign: signer))
            }.entries.lowerBound
        }
    }
}

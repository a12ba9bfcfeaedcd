public import Foundation
import LiaisonModel
public import LiaisonSealing
public import LiaisonStore
import Testing

/// The conformance suite of the node store, which every back end passes:
/// each operation against what was put in, the work queues under two
/// claimants, and bad input — duplicate ids, unknown references, oversized
/// values, a failing tree-head signer — refused with a specific error and
/// leaving no partial state. Each check takes a fresh, empty store.
public enum NodeStoreConformance {
    public typealias Factory = @Sendable () async throws -> any NodeStore

    static let originator = try! SigningKey.generate(.classic)
    public static let t0 = Date(timeIntervalSince1970: 1_574_560_800)

    /// `n` items sealed by KOR, each with a distinct 1 KiB-ish payload.
    public static func sealedItems(_ n: Int, size: Int = 1024, tag: String = "") -> [SealedItem] {
        let label = try! SecurityLabel(
            policy: "gsomia-kor-jpn-2016", originator: .kor, level: "II", releasableTo: [.jpn],
            categories: [Category(tag: "PROJECT", kind: .restrictive, values: ["EAST-SEA"])], created: t0)
        let items = (0..<n).map { i -> (label: SecurityLabel, mediaType: String, payload: [UInt8]) in
            var payload = Array("PLAINTEXT-MARKER \(tag) item \(i) ".utf8)
            payload += [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: max(0, size - payload.count))
            return (label, "text/plain", payload)
        }
        return try! originator.sealOrigin(items, originator: .kor, at: t0)
    }

    public static func newItems(_ n: Int, source: ItemSource = .originated, tag: String = "") -> [NewItem] {
        sealedItems(n, tag: tag).map { NewItem($0, source: source, at: t0) }
    }

    static func record(_ kind: LedgerEntry.Kind, _ subjects: [[UInt8]], party: Party? = nil, detail: String = "") -> [LedgerEntry] {
        subjects.map { LedgerEntry(kind: kind, at: t0, party: party, subjects: [$0], detail: detail) }
    }

    static func recorded(_ kind: LedgerEntry.Kind, _ subjects: [[UInt8]]) -> LedgerWrite {
        LedgerWrite(record(kind, subjects), sign: LedgerStoreConformance.sign())
    }

    static let failingSigner: TreeHeadSigner = { _, _ in throw SealingError(.invalidKey, "the signing key is unavailable") }

    /// Runs every check.
    public static func run(_ make: Factory) async throws {
        try await itemsAndHoldings(make())
        try await sealsWholeAndInParts(make())
        try await badItemsChangeNothing(make())
        try await refusedBatchesSignNothing(make())
        try await holdingChanges(make())
        try await outboxQueue(make())
        try await outboxBatchOfPeers(make())
        try await outboxClaimsByTwoReplicas(make())
        try await claimOrder(make())
        try await inboxQueue(make())
        try await statementsAndPeers(make())
        try await usersSessionsAndTokens(make())
        try await loginLockOut(make())
        try await concurrentWritersOneRefused(make())
        try await receivedBatches(make())
        try await outboxSettledInBatches(make())
        try await statementQueue(make())
        try await keptConsents(make())
        try await consentRequests(make())
        try await actsQueueTheirStatements(make())
    }

    /// A change to a holding, a lifecycle statement issued and a consent
    /// request are each recorded with the statements that tell the parties,
    /// in one transaction: a statement to a peer not known refuses the act
    /// whole (nothing changed, recorded or queued); otherwise the tasks are
    /// queued with it.
    public static func actsQueueTheirStatements(_ store: any NodeStore) async throws {
        let items = newItems(1)
        let id = items[0].sealed.manifest.itemID, digest = items[0].sealed.manifest.digest
        _ = try await store.storeItems(items, ledger: recorded(.itemSealed, [digest]))
        try await store.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:aa")
        let toJPN = StatementRequest(peer: .jpn, kind: 5, signed: [0x30, 0x01, 0x05], itemID: id)
        let toUSA = StatementRequest(peer: .usa, kind: 5, signed: [0x30, 0x01, 0x06], itemID: id)
        let size = try await store.size()

        // A holding change.
        var lower = items[0].sealed.manifest.label
        lower.level = "III"
        let unknown = await #expect(throws: StoreError.self) {
            _ = try await store.changeHolding(id, .reclassified(lower, notice: [1]), at: t0, ledger: recorded(.reclassified, [digest]), statements: [toJPN, toUSA])
        }
        #expect(unknown?.code == .notFound && unknown?.reason.contains("USA") == true, "refused for the peer: \(String(describing: unknown))")
        #expect(try await store.item(id).holding.label.level == "II", "not re-marked")
        #expect(try await store.holdingEvents(id).isEmpty)
        let changed = try await store.changeHolding(id, .reclassified(lower, notice: [1]), at: t0, ledger: recorded(.reclassified, [digest]), statements: [toJPN])
        #expect(changed.tasks.map(\.peer) == [.jpn] && changed.tasks.first?.signed == toJPN.signed && changed.tasks.first?.itemID == id)
        #expect(try await store.item(id).holding.label.level == "III")

        // A lifecycle statement issued here.
        let issued = StoredStatement(digest: MerkleHash.leaf([9]), agreement: "gsomia-kor-jpn-2016", party: .kor, act: "notice", at: t0, signed: [9])
        let notice = StatementRequest(peer: .jpn, kind: 1, signed: [0x30, 0x01, 0x01])
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.recordStatements(
                [issued], ledger: recorded(.lifecycleStatement, [issued.digest]), sending: [notice, StatementRequest(peer: .usa, kind: 1, signed: [1])], at: t0)
        }
        #expect(try await store.statements(agreement: "gsomia-kor-jpn-2016").isEmpty, "not in force here without being sent")
        let recordedStatement = try await store.recordStatements([issued], ledger: recorded(.lifecycleStatement, [issued.digest]), sending: [notice], at: t0)
        #expect(recordedStatement.new == 1 && recordedStatement.tasks.map(\.kind) == [1])
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.recordStatements(
                [StoredStatement(digest: MerkleHash.leaf([8]), agreement: "gsomia-kor-jpn-2016", party: .kor, act: "notice", at: t0, signed: [8])],
                ledger: .none, sending: [notice], at: Date(timeIntervalSince1970: 1e15))
        }
        #expect(try await store.statements(agreement: "gsomia-kor-jpn-2016") == [issued])

        // A consent request sent.
        let request = ConsentRequestRecord(
            id: "q1", direction: .sent, holder: .kor, originator: .jpn, thirdParty: .usa, itemID: id, itemDigest: digest, purpose: nil,
            reason: "the hub asked", at: t0, signed: [0x30, 0x01, 0x07])
        let ask = StatementRequest(peer: .jpn, kind: 7, signed: request.signed, itemID: id)
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.recordConsentRequest(request, ledger: recorded(.consentRequested, [digest]), statements: [toUSA])
        }
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.consentRequest("q1") }
        let asked = try await store.recordConsentRequest(request, ledger: recorded(.consentRequested, [digest]), statements: [ask])
        #expect(asked.tasks.map(\.kind) == [7] && asked.tasks.first?.peer == .jpn)

        // Exactly what succeeded is queued, and each refusal recorded nothing.
        let queued = try await store.unacknowledgedStatements(peer: nil)
        #expect(queued.map(\.id) == (changed.tasks + recordedStatement.tasks + asked.tasks).map(\.id))
        #expect(try await store.size() == size + 3)
        // Bad statements are refused before anything is written.
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.changeHolding(
                id, .compromised(report: [2]), at: t0, ledger: recorded(.compromiseReported, [digest]),
                statements: [StatementRequest(peer: .jpn, kind: 5, signed: [])])
        }
        #expect(try await store.item(id).holding.status == .held)
        #expect(try await store.size() == size + 3)
    }

    /// Consent requests are recorded pending and answered once.
    public static func consentRequests(_ store: any NodeStore) async throws {
        let digest = [UInt8](repeating: 7, count: 32), item = [UInt8](repeating: 1, count: 16)
        func request(_ id: String, _ direction: ConsentRequestRecord.Direction, at: TimeInterval) -> ConsentRequestRecord {
            ConsentRequestRecord(
                id: id, direction: direction, holder: .kor, originator: .jpn, thirdParty: .usa, itemID: item, itemDigest: digest,
                purpose: direction == .sent ? "dprk-nuclear-missile" : nil, reason: "the hub asked", at: t0.addingTimeInterval(at), signed: Array(id.utf8))
        }
        _ = try await store.recordConsentRequest(request("r1", .sent, at: 0), ledger: recorded(.consentRequested, [digest]))
        _ = try await store.recordConsentRequest(request("r2", .received, at: 1), ledger: recorded(.consentRequested, [digest]))
        #expect(try await store.consentRequest("r1") == request("r1", .sent, at: 0))
        #expect(try await store.consentRequests(state: nil, itemDigest: nil, limit: 10).map(\.id) == ["r2", "r1"])
        _ = try await store.answerConsentRequest("r1", .granted, answer: "jpn-consent-1", at: t0.addingTimeInterval(5), ledger: recorded(.consentGiven, [digest]))
        let answered = try await store.consentRequest("r1")
        #expect(answered.state == .granted && answered.answer == "jpn-consent-1" && answered.answeredAt == t0.addingTimeInterval(5))
        #expect(try await store.consentRequests(state: .pending, itemDigest: nil, limit: 10).map(\.id) == ["r2"])
        #expect(try await store.consentRequests(state: .granted, itemDigest: digest, limit: 10).map(\.id) == ["r1"])
        #expect(try await store.consentRequests(state: nil, itemDigest: [UInt8](repeating: 9, count: 32), limit: 10).isEmpty)
        let size = try await store.size()
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.answerConsentRequest("r1", .denied, answer: "no", at: t0, ledger: recorded(.consentDenied, [digest]))
        }
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.recordConsentRequest(request("r2", .sent, at: 9), ledger: recorded(.consentRequested, [digest]))
        }
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.answerConsentRequest("r9", .denied, answer: "no", at: t0, ledger: recorded(.consentDenied, [digest]))
        }
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.answerConsentRequest("r2", .pending, answer: "no", at: t0, ledger: recorded(.consentDenied, [digest]))
        }
        var third = request("r3", .sent, at: 2)
        third.thirdParty = .jpn
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.recordConsentRequest(third, ledger: recorded(.consentRequested, [digest])) }
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.consentRequest("r9") }
        #expect(try await store.size() == size, "nothing refused was recorded")
        #expect(try await store.consentRequest("r2").state == .pending)
        // The originator's answer and the statement carrying it, in one transaction.
        try await store.savePeer(.kor, endpoint: "https://kor.example:8443", fingerprint: "sha256:00")
        let denial = StatementRequest(peer: .kor, kind: 8, signed: [0x30, 0x01, 0x08], itemID: item)
        // To a peer not known: refused as a whole, the request still pending, nothing queued.
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.answerConsentRequest(
                "r2", .denied, answer: "not now", at: t0, ledger: recorded(.consentDenied, [digest]),
                statements: [StatementRequest(peer: .usa, kind: 8, signed: [1], itemID: item)])
        }
        #expect(try await store.consentRequest("r2").state == .pending)
        #expect(try await store.unacknowledgedStatements(peer: nil).isEmpty)
        #expect(try await store.size() == size)
        let sent = try await store.answerConsentRequest("r2", .denied, answer: "not now", at: t0, ledger: recorded(.consentDenied, [digest]), statements: [denial])
        #expect(sent.tasks.map(\.kind) == [8] && sent.tasks.first?.peer == .kor && sent.tasks.first?.signed == denial.signed)
        #expect(try await store.consentRequest("r2").state == .denied)
        #expect(try await store.unacknowledgedStatements(peer: .kor).map(\.id) == sent.tasks.map(\.id))
        // Answered already: a conflict, and no second statement is queued.
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.answerConsentRequest("r2", .granted, answer: "x", at: t0, ledger: recorded(.consentGiven, [digest]), statements: [denial])
        }
        #expect(try await store.unacknowledgedStatements(peer: .kor).count == 1)
    }

    /// A holder keeps the consents it receives, found by the item's digest;
    /// one kept already, or one that is not a consent, changes nothing.
    public static func keptConsents(_ store: any NodeStore) async throws {
        let digest = [UInt8](repeating: 7, count: 32), other = [UInt8](repeating: 8, count: 32)
        func consent(_ id: String, _ item: [UInt8], third: Party = .usa, at: TimeInterval = 0) -> StoredConsent {
            StoredConsent(
                id: id, originator: .kor, itemDigest: item, holder: .jpn, thirdParty: third, expiresAt: t0.addingTimeInterval(86_400),
                receivedAt: t0.addingTimeInterval(at), signed: Array(id.utf8))
        }
        _ = try await store.keepConsent(consent("kor-consent-1", digest), ledger: recorded(.consentGiven, [digest]))
        _ = try await store.keepConsent(consent("kor-consent-2", digest, at: 1), ledger: recorded(.consentGiven, [digest]))
        _ = try await store.keepConsent(consent("kor-consent-3", other), ledger: recorded(.consentGiven, [other]))
        #expect(try await store.consents(itemDigest: digest).map(\.id) == ["kor-consent-1", "kor-consent-2"])
        #expect(try await store.consents(itemDigest: digest)[0] == consent("kor-consent-1", digest))
        #expect(try await store.consents(itemDigest: [UInt8](repeating: 9, count: 32)).isEmpty)
        let size = try await store.size()
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.keepConsent(consent("kor-consent-1", other), ledger: recorded(.consentGiven, [other]))
        }
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.keepConsent(consent("kor-consent-4", digest, third: .kor), ledger: recorded(.consentGiven, [digest]))
        }
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.keepConsent(consent("kor-consent-5", [1, 2]), ledger: recorded(.consentGiven, [digest]))
        }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.consents(itemDigest: [1]) }
        #expect(try await store.size() == size, "nothing refused was recorded")
        #expect(try await store.consents(itemDigest: other).map(\.id) == ["kor-consent-3"])
        // Several items at once (a batch release), oldest first; an item twice counts once.
        #expect(try await store.consents(itemDigests: [other, digest, [UInt8](repeating: 9, count: 32), other]).map(\.id) == ["kor-consent-1", "kor-consent-3", "kor-consent-2"])
        #expect(try await store.consents(itemDigests: []).isEmpty)
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.consents(itemDigests: [digest, [1]]) }
    }

    /// Statements to send wait in their own queue until acknowledged;
    /// statements received are answered once by their recorded entry.
    public static func statementQueue(_ store: any NodeStore) async throws {
        try await store.savePeer(.jpn, endpoint: "https://jpn.example", fingerprint: "sha256:01")
        let queued = try await store.enqueueStatements(
            [StatementRequest(peer: .jpn, kind: 2, signed: [1, 2, 3]), StatementRequest(peer: .jpn, kind: 3, signed: [4], itemID: [UInt8](repeating: 9, count: 16))],
            at: t0, ledger: recorded(.itemSent, [[1], [2]]))
        #expect(queued.map(\.state) == [.pending, .pending])
        #expect(queued[1].itemID == [UInt8](repeating: 9, count: 16))
        #expect(try await store.unacknowledgedStatements(peer: .jpn).count == 2)
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.enqueueStatements([StatementRequest(peer: .usa, kind: 2, signed: [1])], at: t0, ledger: .none)
        }
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.enqueueStatements([StatementRequest(peer: .jpn, kind: 9, signed: [1])], at: t0, ledger: .none)
        }
        let claimed = try await store.claimStatements(peer: .jpn, owner: "a", limit: 10, now: t0, lease: 60)
        #expect(claimed.count == 2)
        #expect(try await store.claimStatements(peer: .jpn, owner: "b", limit: 10, now: t0, lease: 60).isEmpty)
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.settleStatements([SettledTask(id: claimed[0].id, outcome: .refused(reason: "x"))], owner: "b", at: t0, ledger: .none)
        }
        _ = try await store.settleStatements(
            [SettledTask(id: claimed[0].id, outcome: .delivered(receipt: [7])), SettledTask(id: claimed[1].id, outcome: .retry(error: "deferred", notBefore: t0))],
            owner: "a", at: t0, ledger: recorded(.receiptStored, [[1]]))
        #expect(try await store.statementTask(claimed[0].id).state == .done)
        #expect(try await store.statementTask(claimed[0].id).receipt == [7])
        // A statement delivered is not an item delivered: the outbox's tallies stay as they were.
        #expect(try await store.outboxSummary(peer: .jpn).counts.isEmpty)
        let waiting = try await store.unacknowledgedStatements(peer: nil)
        #expect(waiting.map(\.id) == [claimed[1].id])
        #expect(waiting[0].lastError == "deferred")
        // Received statements: the first entry recorded stays.
        let digest = [UInt8](repeating: 5, count: 32)
        #expect(try await store.statementReceipt(peer: .jpn, digest: digest) == nil)
        try await store.keepStatementReceipt(peer: .jpn, digest: digest, ledgerIndex: 3)
        try await store.keepStatementReceipt(peer: .jpn, digest: digest, ledgerIndex: 9)
        #expect(try await store.statementReceipt(peer: .jpn, digest: digest) == 3)
        #expect(try await store.statementReceipt(peer: .kor, digest: digest) == nil)
    }

    /// A peer's batch in one transaction: accepted items stored, refusals
    /// kept with their envelope, each with the ledger entry recording it; a
    /// sequence number recorded before refuses the whole batch and changes
    /// nothing; what is known of a batch is read back.
    public static func receivedBatches(_ store: any NodeStore) async throws {
        try await store.savePeer(.kor, endpoint: "https://kor.example", fingerprint: "sha256:00")
        let items = newItems(3, source: .received(from: .kor, agreement: "gsomia-kor-jpn-2016"), tag: "inbound")
        _ = try await store.append(record(.itemSealed, [[1]]), sign: LedgerStoreConformance.sign())
        let entries = items.map { LedgerEntry(kind: .itemReceived, at: t0, party: .kor, subjects: [$0.sealed.manifest.digest]) }
            + [LedgerEntry(kind: .itemRefused, at: t0, party: .kor, subjects: [[9]], detail: "refused")]
        let records = items.enumerated().map { n, i in
            NewInbound(
                peer: .kor, linkSequence: Int64(n + 1), digest: i.sealed.manifest.digest, at: t0, outcome: .accepted(itemID: i.sealed.manifest.itemID),
                ledgerOffset: n)
        } + [NewInbound(peer: .kor, linkSequence: 4, digest: [UInt8](repeating: 4, count: 32), at: t0, outcome: .refused(reason: "Art 6(a): no consent", envelope: [1, 2, 3]), ledgerOffset: 3)]
        let receipt = try await store.recordInbound(records, items: items, ledger: LedgerWrite(entries, sign: LedgerStoreConformance.sign()))
        #expect(receipt.entries == 1..<5)
        let known = try await store.inboundState(peer: .kor, sequences: [1, 2, 3, 4, 5], itemIDs: items.map(\.sealed.manifest.itemID) + [[UInt8](repeating: 7, count: 16)])
        #expect(known.records.count == 4)
        #expect(known.records[2]?.ledgerIndex == 2)
        #expect(known.records[2]?.state == .done)
        #expect(known.records[2]?.itemID == items[1].sealed.manifest.itemID)
        #expect(known.records[4]?.state == .refused)
        #expect(known.records[4]?.reason == "Art 6(a): no consent")
        #expect(known.records[4]?.ledgerIndex == 4)
        #expect(known.held == Set(items.map(\.sealed.manifest.itemID)))
        // Read back in the order asked.
        let read = try await store.items([items[2].sealed.manifest.itemID, items[0].sealed.manifest.itemID])
        #expect(read.map(\.manifest.itemID) == [items[2].sealed.manifest.itemID, items[0].sealed.manifest.itemID])
        #expect(read[0].payload == items[2].sealed.payload)
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.items([[UInt8](repeating: 7, count: 16)]) }
        // A batch repeating sequence 2 is refused whole: its new item is not stored, nothing is appended.
        let more = newItems(1, source: .received(from: .kor, agreement: "gsomia-kor-jpn-2016"), tag: "second")
        let size = try await store.size()
        let repeated = await #expect(throws: StoreError.self) {
            _ = try await store.recordInbound(
                [
                    NewInbound(peer: .kor, linkSequence: 5, digest: more[0].sealed.manifest.digest, at: t0, outcome: .accepted(itemID: more[0].sealed.manifest.itemID), ledgerOffset: 0),
                    NewInbound(peer: .kor, linkSequence: 2, digest: more[0].sealed.manifest.digest, at: t0, outcome: .refused(reason: "x", envelope: [1]), ledgerOffset: 1),
                ], items: more,
                ledger: LedgerWrite(record(.itemReceived, [[1], [2]]), sign: LedgerStoreConformance.sign()))
        }
        #expect(repeated?.code == .duplicate && repeated?.reason.contains("link sequence 2") == true, "\(String(describing: repeated))")
        #expect(try await store.size() == size)
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.item(more[0].sealed.manifest.itemID) }
        #expect(try await store.inboundState(peer: .kor, sequences: [5], itemIDs: []).records.isEmpty)
        // Bad input: a record naming a ledger entry that is not there, a sequence twice.
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.recordInbound(
                [NewInbound(peer: .kor, linkSequence: 9, digest: [UInt8](repeating: 1, count: 32), at: t0, outcome: .refused(reason: "x", envelope: [1]), ledgerOffset: 1)],
                items: [], ledger: LedgerWrite(record(.itemRefused, [[1]]), sign: nil))
        }
        // The frontier gives the same proofs as the store.
        let head = try await store.size()
        let frontier = try await store.frontier(size: 2)
        #expect(frontier.count == 1)
        #expect(frontier[0] == (try await store.root(size: 2)))
        _ = head
        // Receipts' tree heads, kept once per size.
        try await store.keepPeerTreeHead(.kor, size: 10, signed: [1, 2])
        try await store.keepPeerTreeHead(.kor, size: 10, signed: [3, 4])
        #expect(try await store.peerTreeHead(.kor, size: 10) == [1, 2])
        #expect(try await store.peerTreeHead(.kor, size: 11) == nil)
        await #expect(throws: StoreError(.notFound, "")) { try await store.keepPeerTreeHead(.usa, size: 1, signed: [1]) }
    }

    /// The outcomes of a sent batch settle in one transaction; a task the
    /// owner does not hold refuses the whole settlement.
    public static func outboxSettledInBatches(_ store: any NodeStore) async throws {
        try await store.savePeer(.jpn, endpoint: "https://jpn.example", fingerprint: "sha256:01")
        let items = newItems(4, tag: "outbound")
        _ = try await store.storeItems(items, ledger: recorded(.itemSealed, items.map(\.sealed.manifest.digest)))
        let queued = try await store.enqueueOutbox(
            items.map { OutboxRequest(itemID: $0.sealed.manifest.itemID, peer: .jpn, agreement: "gsomia-kor-jpn-2016") }, at: t0, ledger: .none)
        let claimed = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 3, now: t0, lease: 60)
        #expect(claimed.count == 3)
        var summary = try await store.outboxSummary(peer: .jpn)
        #expect(summary.counts[.claimed] == 3 && summary.counts[.pending] == 1)
        #expect(summary.oldestWaiting == t0)
        // queued[3] is not claimed by "a": the whole settlement is refused.
        let size = try await store.size()
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.settleOutbox(
                [SettledTask(id: claimed[0].id, outcome: .delivered(receipt: [1])), SettledTask(id: queued[3].id, outcome: .refused(reason: "x"))],
                owner: "a", at: t0, ledger: recorded(.receiptStored, [[1]]))
        }
        #expect(try await store.outboxTask(claimed[0].id).state == .claimed)
        #expect(try await store.size() == size)
        #expect(try await store.outboxSummary(peer: .jpn).counts == [.claimed: 3, .pending: 1])
        _ = try await store.settleOutbox(
            [
                SettledTask(id: claimed[0].id, outcome: .delivered(receipt: [1])),
                SettledTask(id: claimed[1].id, outcome: .refused(reason: "JPN refused: Art 4")),
                SettledTask(id: claimed[2].id, outcome: .retry(error: "JPN unreachable", notBefore: t0.addingTimeInterval(5))),
            ], owner: "a", at: t0, ledger: recorded(.receiptStored, [[1], [2]]))
        #expect(try await store.size() == size + 2)
        #expect(try await store.outboxTask(claimed[0].id).receipt == [1])
        #expect(try await store.outboxTask(claimed[1].id).state == .refused)
        #expect(try await store.outboxTask(claimed[2].id).state == .pending)
        // Each settled as told, in one batch: the receipt, the reason, the retry's error and time.
        let (done, refused, retried) = (try await store.outboxTask(claimed[0].id), try await store.outboxTask(claimed[1].id), try await store.outboxTask(claimed[2].id))
        #expect(done.lastError == nil && done.owner == nil && done.leaseUntil == nil && done.notBefore == queued[0].notBefore)
        #expect(refused.lastError == "JPN refused: Art 4" && refused.receipt == nil && refused.owner == nil && refused.notBefore == queued[1].notBefore)
        #expect(retried.lastError == "JPN unreachable" && retried.notBefore == t0.addingTimeInterval(5) && retried.receipt == nil && retried.owner == nil)
        summary = try await store.outboxSummary(peer: .jpn)
        #expect(summary.counts[.done] == 1 && summary.counts[.refused] == 1 && summary.counts[.pending] == 2)
        // The latest error of a task not delivered (the retried one, queued after the refused one); the oldest task waiting.
        #expect(summary.lastError == "JPN unreachable")
        #expect(summary.oldestWaiting == t0)
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.settleOutbox(
                [SettledTask(id: claimed[2].id, outcome: .refused(reason: "x")), SettledTask(id: claimed[2].id, outcome: .refused(reason: "y"))],
                owner: "a", at: t0, ledger: .none)
        }
        // The receipts' heads settle with them: kept by size, the latest recorded only when larger.
        let again = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 10, now: t0.addingTimeInterval(10), lease: 60)
        #expect(again.count == 2)
        // Nothing pending now: the oldest waiting is the oldest in flight.
        #expect(try await store.outboxSummary(peer: .jpn).oldestWaiting == t0)
        _ = try await store.settleOutbox(
            [SettledTask(id: again[0].id, outcome: .delivered(receipt: [2]))], owner: "a", at: t0, ledger: .none,
            peerHeads: [PeerHead(party: .jpn, size: 20, signed: [20], at: t0), PeerHead(party: .jpn, size: 12, signed: [12], at: t0)])
        #expect(try await store.peerTreeHead(.jpn, size: 20) == [20])
        #expect(try await store.peerTreeHead(.jpn, size: 12) == [12])
        #expect(try await store.peer(.jpn).treeSize == 20)
        _ = try await store.settleOutbox(
            [SettledTask(id: again[1].id, outcome: .delivered(receipt: [3]))], owner: "a", at: t0, ledger: .none,
            peerHeads: [PeerHead(party: .jpn, size: 15, signed: [15], at: t0)])
        #expect(try await store.peer(.jpn).treeSize == 20)
        #expect(try await store.peerTreeHead(.jpn, size: 15) == [15])
        // Delivered at last, the retried task drops its error; the refused one's remains the latest.
        #expect(try await store.outboxTask(claimed[2].id).lastError == nil)
        #expect(try await store.outboxSummary(peer: .jpn).lastError == "JPN refused: Art 4")
        #expect(try await store.outboxSummary(peer: .jpn).oldestWaiting == nil)
    }

    /// Many writers at once (merged into shared transactions where the back
    /// end does group commit): each is acknowledged with its own ledger
    /// range; the one with a duplicate item is refused alone.
    public static func concurrentWritersOneRefused(_ store: any NodeStore) async throws {
        let existing = newItems(1, tag: "existing")
        _ = try await store.storeItems(existing, ledger: recorded(.itemSealed, [existing[0].sealed.manifest.digest]))
        let items = newItems(40, tag: "concurrent")
        let results = await withTaskGroup(of: (Int, Result<LedgerReceipt, StoreError>).self) { group in
            for (n, item) in items.enumerated() {
                group.addTask {
                    let batch = n == 17 ? [item, existing[0]] : [item]
                    do throws(StoreError) {
                        return (n, .success(try await store.storeItems(batch, ledger: recorded(.itemSealed, batch.map(\.sealed.manifest.digest)))))
                    } catch { return (n, .failure(error)) }
                }
            }
            var out: [Int: Result<LedgerReceipt, StoreError>] = [:]
            for await (n, r) in group { out[n] = r }
            return out
        }
        var ranges: [Range<Int>] = []
        for (n, r) in results.sorted(by: { $0.key < $1.key }) {
            switch r {
            case .success(let receipt):
                #expect(n != 17, "the writer with a duplicate item was acknowledged")
                #expect(receipt.entries.count == 1)
                ranges.append(receipt.entries)
            case .failure(let error):
                #expect(n == 17 && error.code == StoreError.Code.duplicate, "writer \(n): \(error)")
            }
        }
        #expect(ranges.count == 39)
        #expect(Set(ranges.map(\.lowerBound)) == Set(1...39), "each writer has its own ledger entry")
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.item(items[17].sealed.manifest.itemID) }
        for (n, item) in items.enumerated() where n != 17 {
            #expect(try await store.item(item.sealed.manifest.itemID).payload == item.sealed.payload)
        }
        #expect(try await store.size() == 40)
        let v = try await store.verify()
        #expect(v.isIntact && v.treeHeadSize == 40, "\(v)")
    }

    public static func itemsAndHoldings(_ store: any NodeStore) async throws {
        let items = newItems(3) + newItems(2, source: .received(from: .jpn, agreement: "gsomia-kor-jpn-2016"), tag: "in")
        let receipt = try await store.storeItems(items, ledger: recorded(.itemSealed, items.map(\.sealed.manifest.digest)))
        #expect(receipt.entries == 0..<5)
        #expect(try await store.latestTreeHead()?.body.size == 5)
        for item in items {
            let stored = try await store.item(item.sealed.manifest.itemID)
            #expect(stored.payload == item.sealed.payload)
            #expect(stored.manifest == item.sealed.manifest)
            #expect(stored.seal == item.sealed.seal)
            #expect(stored.holding.source == item.source)
            #expect(stored.holding.status == .held)
            #expect(stored.holding.label == item.sealed.manifest.label)
            #expect(stored.holding.at == item.at)
        }
        let page1 = try await store.holdings(after: nil, limit: 2)
        let page2 = try await store.holdings(after: page1.last?.sequence, limit: 10)
        // Newest first, a page at a time.
        let newest = try await store.holdings(before: nil, limit: 2)
        #expect(newest.map(\.sequence) == (page1 + page2).map(\.sequence).reversed().prefix(2).map { $0 })
        let older = try await store.holdings(before: newest.last?.sequence, limit: 100)
        #expect((newest + older).map(\.sequence) == (page1 + page2).map(\.sequence).reversed())
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.holdings(before: nil, limit: 0) }
        #expect((page1 + page2).map(\.itemID) == items.map(\.sealed.manifest.itemID))
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.item([UInt8](repeating: 7, count: 16)) }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.holdings(after: nil, limit: 0) }
        #expect(try await store.verify().isIntact)
    }

    /// An origin batch stored whole (a store may keep its seal tree once)
    /// and one stored in parts (each item with its path), large and small
    /// batches: every item reads back with the seal it was stored with.
    public static func sealsWholeAndInParts(_ store: any NodeStore) async throws {
        let whole = newItems(150, tag: "whole") + newItems(5, tag: "small whole")
        let parts = newItems(150, tag: "parts")
        for batch in [whole, Array(parts[0..<70]), Array(parts[70..<71]), Array(parts[71...])] {
            _ = try await store.storeItems(batch, ledger: recorded(.itemSealed, batch.map(\.sealed.manifest.digest)))
        }
        for item in whole + parts {
            let stored = try await store.item(item.sealed.manifest.itemID)
            #expect(stored.seal == item.sealed.seal, "item \(item.sealed.seal.index) of \(item.sealed.seal.root.count)")
            #expect(stored.seal.binds(stored.manifest))
            #expect(stored.payload == item.sealed.payload)
        }
        // Read together (a sender's batch): whole origin batches, parts of
        // one, an item asked twice, each as sealed, in the order asked.
        let asked = whole + parts.reversed() + [whole[3]]
        let together = try await store.items(asked.map(\.sealed.manifest.itemID))
        #expect(together.map(\.manifest.itemID) == asked.map(\.sealed.manifest.itemID))
        #expect(together.map(\.seal) == asked.map(\.sealed.seal))
        #expect(together.map(\.payload) == asked.map(\.sealed.payload))
        #expect(try await store.verify().isIntact)
    }

    /// A batch the store refuses has no tree head signed for it (a node signs
    /// no head for a tree it then drops), small or large; and a batch with a
    /// bad item and an oversized ledger entry is refused for the item, at
    /// every size.
    public static func refusedBatchesSignNothing(_ store: any NodeStore) async throws {
        final class Count: @unchecked Sendable {
            // @unchecked: `value` is guarded by `lock`.
            private let lock = NSLock()
            private var value = 0
            var current: Int { lock.withLock { value } }
            func add() { lock.withLock { value += 1 } }
        }
        let signatures = Count()
        let inner = LedgerStoreConformance.sign()
        let counting: TreeHeadSigner = { size, root in
            signatures.add()
            return try inner(size, root)
        }
        let stored = newItems(100, tag: "signed once")
        _ = try await store.storeItems(stored, ledger: LedgerWrite(record(.itemSealed, stored.map(\.sealed.manifest.digest)), sign: counting))
        #expect(signatures.current == 1)
        for n in [1, 10, 63, 64, 100] {
            let batch = newItems(n, tag: "refused \(n)").dropLast() + [stored[n - 1]]
            await #expect(throws: StoreError(.duplicate, "")) {
                _ = try await store.storeItems(Array(batch), ledger: LedgerWrite(record(.itemSealed, batch.map(\.sealed.manifest.digest)), sign: counting))
            }
            var bad = newItems(n, tag: "bad \(n)")
            bad[n / 2].sealed.payload[0] ^= 1
            let huge = LedgerEntry(kind: .itemRead, at: t0, detail: String(repeating: "x", count: StoreLimits.maximumEntryBytes + 1))
            do {
                _ = try await store.storeItems(bad, ledger: LedgerWrite([huge], sign: counting))
                Issue.record("a batch with a bad item and an oversized entry was stored")
            } catch {
                #expect(error.code == .invalidInput && error.reason.contains("item \(n / 2)"), "\(n) items: \(error)")
            }
        }
        #expect(signatures.current == 1, "a refused batch had a tree head signed")
        #expect(try await store.size() == 100)
        #expect(try await store.latestTreeHead()?.body.size == 100)
    }

    public static func badItemsChangeNothing(_ store: any NodeStore) async throws {
        let first = newItems(2)
        _ = try await store.storeItems(first, ledger: recorded(.itemSealed, first.map(\.sealed.manifest.digest)))
        let fresh = newItems(3, tag: "fresh")
        // One stored item in a batch refuses the whole batch.
        await #expect(throws: StoreError(.duplicate, "")) {
            _ = try await store.storeItems(fresh + [first[1]], ledger: recorded(.itemSealed, (fresh + [first[1]]).map(\.sealed.manifest.digest)))
        }
        await #expect(throws: StoreError(.duplicate, "")) { _ = try await store.storeItems([fresh[0], fresh[0]], ledger: .none) }
        // A payload that is not the one the manifest names.
        var tampered = fresh[0]
        tampered.sealed.payload[0] ^= 1
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.storeItems([tampered], ledger: .none) }
        // A seal from another item.
        var misSealed = fresh[0]
        misSealed.sealed.seal = fresh[1].sealed.seal
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.storeItems([misSealed], ledger: .none) }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.storeItems([], ledger: .none) }
        // An instant no store or wire can carry.
        var farFuture = fresh[0]
        farFuture.at = Date(timeIntervalSince1970: 1e17)
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.storeItems([farFuture], ledger: .none) }
        var nan = fresh[0]
        nan.at = Date(timeIntervalSince1970: .nan)
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.storeItems([nan], ledger: .none) }
        let big = sealedItems(1, size: NodeRules.maximumPayloadBytes + 1, tag: "big").map { NewItem($0, source: .originated, at: t0) }
        await #expect(throws: StoreError(.oversized, "")) { _ = try await store.storeItems(big, ledger: .none) }
        // A signer that fails aborts the items with the ledger entries.
        await #expect(throws: StoreError.self) {
            _ = try await store.storeItems(fresh, ledger: LedgerWrite(record(.itemSealed, fresh.map(\.sealed.manifest.digest)), sign: failingSigner))
        }
        #expect(try await store.holdings(after: nil, limit: 100).count == 2)
        #expect(try await store.size() == 2)
        for f in fresh { await #expect(throws: StoreError(.notFound, "")) { _ = try await store.item(f.sealed.manifest.itemID) } }
        #expect(try await store.verify().isIntact)
    }

    public static func holdingChanges(_ store: any NodeStore) async throws {
        let items = newItems(3)
        let ids = items.map(\.sealed.manifest.itemID)
        _ = try await store.storeItems(items, ledger: recorded(.itemSealed, items.map(\.sealed.manifest.digest)))
        var lower = items[0].sealed.manifest.label
        lower.level = "III"
        _ = try await store.changeHolding(ids[0], .reclassified(lower, notice: [1, 2, 3]), at: t0, ledger: recorded(.reclassified, [ids[0]]))
        #expect(try await store.item(ids[0]).holding.label.level == "III")
        #expect(try await store.item(ids[0]).manifest.label.level == "II", "the originator's manifest is kept as sealed")
        var stolen = lower
        stolen.originator = .usa
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.changeHolding(ids[0], .reclassified(stolen, notice: [9]), at: t0, ledger: recorded(.reclassified, [ids[0]]))
        }
        // A holder's report received by the originator is kept with its copy, whose status stays.
        _ = try await store.changeHolding(ids[2], .compromiseReported(report: [7]), at: t0, ledger: recorded(.compromiseReported, [ids[2]]))
        #expect(try await store.item(ids[2]).holding.status == .held)
        _ = try await store.changeHolding(ids[1], .compromised(report: [4]), at: t0, ledger: recorded(.compromiseReported, [ids[1]]))
        #expect(try await store.item(ids[1]).holding.status == .compromised)
        // Reports across items, newest first, paged by sequence.
        let reports = try await store.holdingEvents(kind: .compromised, before: nil, limit: 10)
        #expect(reports.map(\.itemID) == [ids[1], ids[2]] && reports.map(\.event.evidence) == [[4], [7]])
        #expect(try await store.holdingEvents(kind: .compromised, before: reports[0].sequence, limit: 10).map(\.itemID) == [ids[2]])
        #expect(try await store.holdingEvents(kind: .compromised, before: nil, limit: 1).map(\.itemID) == [ids[1]])
        #expect(try await store.holdingEvents(kind: .reclassified, before: nil, limit: 10).map(\.itemID) == [ids[0]])
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.holdingEvents(kind: .compromised, before: nil, limit: 0) }
        _ = try await store.changeHolding(ids[1], .destroyed(certificate: [5]), at: t0, ledger: recorded(.destroyed, [ids[1]]))
        let destroyed = try await store.item(ids[1])
        #expect(destroyed.holding.status == .destroyed)
        #expect(destroyed.payload == nil, "destruction erases the payload")
        #expect(try await store.holdingEvents(ids[1]).map(\.kind) == [.compromised, .destroyed])
        let size = try await store.size()
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.changeHolding(ids[1], .compromised(report: [6]), at: t0, ledger: recorded(.compromiseReported, [ids[1]]))
        }
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.changeHolding(ids[2], .destroyed(certificate: []), at: t0, ledger: recorded(.destroyed, [ids[2]]))
        }
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.changeHolding([UInt8](repeating: 1, count: 16), .destroyed(certificate: [1]), at: t0, ledger: .none)
        }
        await #expect(throws: StoreError.self) {
            _ = try await store.changeHolding(ids[2], .destroyed(certificate: [1]), at: t0, ledger: LedgerWrite(record(.destroyed, [ids[2]]), sign: failingSigner))
        }
        #expect(try await store.item(ids[2]).holding.status == .held)
        #expect(try await store.item(ids[2]).payload != nil)
        #expect(try await store.holdingEvents(ids[2]).map(\.kind) == [.compromised], "only the report received before")
        #expect(try await store.size() == size)
        #expect(try await store.verify().isIntact)
    }

    /// A claim takes claims whose lease ran out first, then pending tasks
    /// in the order they fell due (a retry waiting for its time goes after
    /// tasks due before it), queued order among equals; tasks done, refused
    /// or not yet due are passed over, however many there are.
    public static func claimOrder(_ store: any NodeStore) async throws {
        let items = newItems(8, tag: "order")
        let ids = items.map(\.sealed.manifest.itemID)
        _ = try await store.storeItems(items, ledger: .none)
        try await store.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:00")
        let queued = try await store.enqueueOutbox(ids.map { OutboxRequest(itemID: $0, peer: .jpn, agreement: "a") }, at: t0, ledger: .none)
        #expect(queued.map(\.linkSequence) == Array(1...8))
        // 1 and 2 done, 3 retried until t0 + 50, 4 refused, 5 held by a replica until t0 + 30.
        let first = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 4, now: t0, lease: 60)
        #expect(first.map(\.linkSequence) == [1, 2, 3, 4])
        _ = try await store.settleOutbox(
            [
                SettledTask(id: first[0].id, outcome: .delivered(receipt: [1])), SettledTask(id: first[1].id, outcome: .delivered(receipt: [2])),
                SettledTask(id: first[2].id, outcome: .retry(error: "later", notBefore: t0.addingTimeInterval(50))),
                SettledTask(id: first[3].id, outcome: .refused(reason: "no")),
            ], owner: "a", at: t0, ledger: .none, peerHeads: [])
        #expect(try await store.claimOutbox(peer: .jpn, owner: "b", limit: 1, now: t0, lease: 30).map(\.linkSequence) == [5])
        // At t0 + 40: the lapsed claim (5) first, then 6 and 7; 3 is not due yet.
        let second = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 3, now: t0.addingTimeInterval(40), lease: 60)
        #expect(second.map(\.linkSequence) == [5, 6, 7])
        // At t0 + 60: 8 (due since t0) before 3 (due at t0 + 50).
        let third = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 1, now: t0.addingTimeInterval(60), lease: 60)
        #expect(third.map(\.linkSequence) == [8])
        let fourth = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 5, now: t0.addingTimeInterval(60), lease: 60)
        #expect(fourth.map(\.linkSequence) == [3])
        #expect(fourth.first?.attempts == 2)
    }

    public static func outboxQueue(_ store: any NodeStore) async throws {
        let items = newItems(3)
        let ids = items.map(\.sealed.manifest.itemID)
        _ = try await store.storeItems(items, ledger: recorded(.itemSealed, items.map(\.sealed.manifest.digest)))
        try await store.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:00")
        let requests = ids.map { OutboxRequest(itemID: $0, peer: .jpn, agreement: "gsomia-kor-jpn-2016", consents: [[0x30, 0x00]]) }
        let queued = try await store.enqueueOutbox(requests, at: t0, ledger: recorded(.itemSent, ids))
        #expect(queued.map(\.linkSequence) == [1, 2, 3])
        #expect(queued.allSatisfy { $0.state == .pending && $0.consents == [[0x30, 0x00]] })
        #expect(try await store.peer(.jpn).nextOutboundSequence == 4)
        // Listed newest first, all or one item's, a page at a time.
        #expect(try await store.outboxTasks(itemID: nil, before: nil, limit: 10).map(\.id) == queued.map(\.id).reversed())
        #expect(try await store.outboxTasks(itemID: nil, before: queued[2].id, limit: 1).map(\.id) == [queued[1].id])
        #expect(try await store.outboxTasks(itemID: ids[0], before: nil, limit: 10).map(\.id) == [queued[0].id])
        #expect(try await store.outboxTasks(itemID: [UInt8](repeating: 7, count: 16), before: nil, limit: 10).isEmpty)
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.outboxTasks(itemID: [1], before: nil, limit: 10) }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.outboxTasks(itemID: nil, before: nil, limit: 0) }
        let size = try await store.size()
        // Queued twice, to an unknown peer, an unknown item: refused, nothing queued.
        await #expect(throws: StoreError(.duplicate, "")) { _ = try await store.enqueueOutbox([requests[0]], at: t0, ledger: recorded(.itemSent, [ids[0]])) }
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.enqueueOutbox([OutboxRequest(itemID: ids[0], peer: .usa, agreement: "a")], at: t0, ledger: .none)
        }
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.enqueueOutbox([OutboxRequest(itemID: [UInt8](repeating: 3, count: 16), peer: .jpn, agreement: "a")], at: t0, ledger: .none)
        }
        #expect(try await store.peer(.jpn).nextOutboundSequence == 4, "a refused batch allocates no sequence numbers")
        #expect(try await store.size() == size)

        let a = try await store.claimOutbox(peer: .jpn, owner: "replica-a", limit: 2, now: t0, lease: 30)
        #expect(a.map(\.linkSequence) == [1, 2])
        #expect(a.allSatisfy { $0.state == .claimed && $0.owner == "replica-a" && $0.attempts == 1 })
        let b = try await store.claimOutbox(peer: .jpn, owner: "replica-b", limit: 5, now: t0, lease: 30)
        #expect(b.map(\.linkSequence) == [3])
        #expect(try await store.claimOutbox(peer: .jpn, owner: "replica-b", limit: 5, now: t0, lease: 30).isEmpty)
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.settleOutbox(a[0].id, owner: "replica-b", .delivered(receipt: [1]), at: t0, ledger: .none)
        }
        let delivered = try await store.settleOutbox(a[0].id, owner: "replica-a", .delivered(receipt: [7, 7]), at: t0, ledger: recorded(.receiptStored, [ids[0]]))
        #expect(delivered.state == .done && delivered.receipt == [7, 7])
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.settleOutbox(a[0].id, owner: "replica-a", .delivered(receipt: [1]), at: t0, ledger: .none)
        }
        // A retry waits for its time, keeps its link sequence number.
        let later = t0.addingTimeInterval(20)
        _ = try await store.settleOutbox(a[1].id, owner: "replica-a", .retry(error: "peer unreachable", notBefore: later), at: t0, ledger: .none)
        #expect(try await store.claimOutbox(peer: .jpn, owner: "replica-a", limit: 5, now: t0, lease: 30).isEmpty)
        let retried = try await store.claimOutbox(peer: .jpn, owner: "replica-a", limit: 5, now: later, lease: 30)
        #expect(retried.map(\.linkSequence) == [2])
        #expect(retried.first?.attempts == 2 && retried.first?.lastError == "peer unreachable")
        // An expired lease is taken over; its old owner can no longer settle.
        let taken = try await store.claimOutbox(peer: .jpn, owner: "replica-a", limit: 5, now: t0.addingTimeInterval(31), lease: 30)
        #expect(taken.map(\.linkSequence) == [3])
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.settleOutbox(b[0].id, owner: "replica-b", .refused(reason: "x"), at: t0, ledger: .none)
        }
        let refused = try await store.settleOutbox(b[0].id, owner: "replica-a", .refused(reason: "no agreement in force"), at: t0, ledger: .none)
        #expect(refused.state == .refused && refused.lastError == "no agreement in force")
        // The sync status counts what waits and is in flight, and keeps the
        // delivered and refused as they settled one by one: a settlement
        // refused for a task not held changed nothing.
        let summary = try await store.outboxSummary(peer: .jpn)
        #expect(summary.counts == [.done: 1, .refused: 1, .claimed: 1], "\(summary.counts)")
        #expect(summary.lastError == "no agreement in force")
        #expect(try await store.outboxSummary(peer: .usa).counts.isEmpty)
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.outboxTask(999) }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.claimOutbox(peer: .jpn, owner: "", limit: 5, now: t0, lease: 30) }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.claimOutbox(peer: .jpn, owner: "x", limit: 0, now: t0, lease: 30) }
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.claimOutbox(peer: .jpn, owner: "x", limit: 1, now: Date(timeIntervalSince1970: -1e15), lease: 30)
        }
        // A destroyed item cannot be queued.
        let extra = newItems(1, tag: "extra")
        _ = try await store.storeItems(extra, ledger: .none)
        _ = try await store.changeHolding(extra[0].sealed.manifest.itemID, .destroyed(certificate: [1]), at: t0, ledger: .none)
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.enqueueOutbox([OutboxRequest(itemID: extra[0].sealed.manifest.itemID, peer: .jpn, agreement: "a")], at: t0, ledger: .none)
        }
        #expect(try await store.verify().isIntact)
    }

    /// One batch queues to two peers at once: each request gets its own
    /// task back, in the order asked, numbered on its peer's link. A batch
    /// with one bad request (already queued, unknown, destroyed), wherever it
    /// stands, queues nothing and takes no link numbers.
    public static func outboxBatchOfPeers(_ store: any NodeStore) async throws {
        let items = newItems(5, tag: "two-peers")
        let ids = items.map(\.sealed.manifest.itemID)
        _ = try await store.storeItems(items, ledger: .none)
        try await store.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:00")
        try await store.savePeer(.usa, endpoint: "https://usa.example:8443", fingerprint: "sha256:01")
        let peers: [Party] = [.jpn, .usa, .jpn, .usa]
        let requests = (0..<4).map { i in
            OutboxRequest(itemID: ids[i], peer: peers[i], agreement: peers[i] == .jpn ? "gsomia-kor-jpn-2016" : "gsomia-kor-usa-1987", consents: [[0x30, UInt8(i)]])
        }
        let queued = try await store.enqueueOutbox(requests, at: t0, ledger: recorded(.itemSent, Array(ids[0..<4])))
        #expect(queued.map(\.itemID) == Array(ids[0..<4]))
        #expect(queued.map(\.peer) == peers)
        #expect(queued.map(\.agreement) == requests.map(\.agreement))
        #expect(queued.map(\.consents) == requests.map(\.consents))
        #expect(queued.map(\.linkSequence) == [1, 1, 2, 2])
        #expect(Set(queued.map(\.id)).count == 4)
        let size = try await store.size()
        let fresh = OutboxRequest(itemID: ids[4], peer: .usa, agreement: "gsomia-kor-usa-1987")
        await #expect(throws: StoreError(.duplicate, "")) { _ = try await store.enqueueOutbox([fresh, requests[3]], at: t0, ledger: .none) }
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.enqueueOutbox(
                [fresh, OutboxRequest(itemID: [UInt8](repeating: 9, count: 16), peer: .jpn, agreement: "gsomia-kor-jpn-2016")], at: t0, ledger: .none)
        }
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.enqueueOutbox([fresh, OutboxRequest(itemID: ids[0], peer: .kor, agreement: "gsomia-kor-jpn-2016")], at: t0, ledger: .none)
        }
        _ = try await store.changeHolding(ids[1], .destroyed(certificate: [1]), at: t0, ledger: .none)
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.enqueueOutbox([fresh, OutboxRequest(itemID: ids[1], peer: .jpn, agreement: "gsomia-kor-jpn-2016")], at: t0, ledger: .none)
        }
        #expect(try await store.outboxTasks(itemID: ids[4], before: nil, limit: 10).isEmpty)
        #expect(try await store.peer(.jpn).nextOutboundSequence == 3)
        #expect(try await store.peer(.usa).nextOutboundSequence == 3)
        #expect(try await store.size() == size)
        // What was refused can then be queued on its own, numbered next.
        let next = try await store.enqueueOutbox([fresh], at: t0, ledger: .none)
        #expect(next.map(\.linkSequence) == [3])
        #expect(try await store.verify().isIntact)
    }

    /// Two replicas claim from one queue at once: every task is claimed
    /// exactly once.
    public static func outboxClaimsByTwoReplicas(_ store: any NodeStore) async throws {
        let items = newItems(120)
        _ = try await store.storeItems(items, ledger: .none)
        try await store.savePeer(.usa, endpoint: "https://usa.example:8443", fingerprint: "sha256:01")
        _ = try await store.enqueueOutbox(items.map { OutboxRequest(itemID: $0.sealed.manifest.itemID, peer: .usa, agreement: "gsomia-kor-usa-1987") }, at: t0, ledger: .none)
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for owner in ["replica-a", "replica-b"] {
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await store.claimOutbox(peer: .usa, owner: owner, limit: 7, now: t0, lease: 60)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            var all: [[Int64]] = []
            for try await part in group { all.append(part) }
            return all
        }
        let all = claimed.flatMap { $0 }
        #expect(all.count == 120)
        #expect(Set(all).count == 120, "a task was claimed twice")
    }

    public static func inboxQueue(_ store: any NodeStore) async throws {
        let d1 = MerkleHash.leaf([1]), d2 = MerkleHash.leaf([2]), d3 = MerkleHash.leaf([3])
        let e1 = InboundEnvelope(peer: .jpn, linkSequence: 1, digest: d1, bytes: [1, 1], at: t0)
        let e2 = InboundEnvelope(peer: .jpn, linkSequence: 2, digest: d2, bytes: [2, 2], at: t0)
        let admitted = try await store.receiveInbox([e1, e2], ledger: recorded(.itemReceived, [d1, d2]))
        #expect(admitted.map { if case .new = $0 { true } else { false } } == [true, true])
        // A retried transfer is stored once.
        let again = try await store.receiveInbox([e1], ledger: .none)
        #expect(again == [.duplicate(admitted[0].id)])
        // The same sequence number with another envelope refuses the whole batch.
        let e3 = InboundEnvelope(peer: .jpn, linkSequence: 3, digest: d3, bytes: [3], at: t0)
        let forged = InboundEnvelope(peer: .jpn, linkSequence: 2, digest: d3, bytes: [9], at: t0)
        let size = try await store.size()
        await #expect(throws: StoreError(.conflict, "")) { _ = try await store.receiveInbox([e3, forged], ledger: recorded(.itemReceived, [d3])) }
        #expect(try await store.size() == size)
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.receiveInbox([InboundEnvelope(peer: .jpn, linkSequence: 0, digest: d3, bytes: [3], at: t0)], ledger: .none)
        }
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.receiveInbox([InboundEnvelope(peer: .jpn, linkSequence: 5, digest: [1, 2], bytes: [3], at: t0)], ledger: .none)
        }
        let claimed = try await store.claimInbox(owner: "worker", limit: 10, now: t0, lease: 30)
        #expect(claimed.map(\.linkSequence) == [1, 2], "the refused batch left nothing behind")
        #expect(claimed[0].bytes == [1, 1])
        let item = newItems(1, source: .received(from: .jpn, agreement: "gsomia-kor-jpn-2016"), tag: "inbound")[0]
        let accepted = try await store.settleInbox(
            claimed[0].id, owner: "worker", .accepted(item), at: t0, ledger: recorded(.itemReceived, [item.sealed.manifest.digest]))
        #expect(accepted.state == .done && accepted.itemID == item.sealed.manifest.itemID)
        #expect(try await store.item(item.sealed.manifest.itemID).payload == item.sealed.payload)
        // Accepting the same item again (from another envelope) is refused; the envelope stays claimed.
        await #expect(throws: StoreError(.duplicate, "")) {
            _ = try await store.settleInbox(claimed[1].id, owner: "worker", .accepted(item), at: t0, ledger: .none)
        }
        #expect(try await store.inboxTask(claimed[1].id).state == .claimed)
        let refused = try await store.settleInbox(claimed[1].id, owner: "worker", .refused(reason: "Art 4: no equivalent level"), at: t0, ledger: .none)
        #expect(refused.state == .refused && refused.reason == "Art 4: no equivalent level")
        await #expect(throws: StoreError(.conflict, "")) {
            _ = try await store.settleInbox(claimed[1].id, owner: "worker", .refused(reason: "again"), at: t0, ledger: .none)
        }
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.inboxTask(12345) }
        #expect(try await store.verify().isIntact)
    }

    public static func statementsAndPeers(_ store: any NodeStore) async throws {
        let s1 = StoredStatement(digest: MerkleHash.leaf([1]), agreement: "gsomia-kor-jpn-2016", party: .kor, act: "notice", at: t0, signed: [1])
        let s2 = StoredStatement(
            digest: MerkleHash.leaf([2]), agreement: "gsomia-kor-jpn-2016", party: .kor, act: "suspension", at: t0.addingTimeInterval(86_400), signed: [2])
        let s3 = StoredStatement(digest: MerkleHash.leaf([3]), agreement: "tisa-2014", party: .usa, act: "signature", at: t0, signed: [3])
        #expect(try await store.recordStatements([s2, s1, s3], ledger: recorded(.lifecycleStatement, [s1.digest, s2.digest, s3.digest])) == 3)
        #expect(try await store.recordStatements([s1], ledger: .none) == 0)
        #expect(try await store.statements(agreement: "gsomia-kor-jpn-2016") == [s1, s2])
        #expect(try await store.statements(agreement: "none").isEmpty)
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.recordStatements([StoredStatement(digest: [1], agreement: "a", party: .kor, act: "x", at: t0, signed: [1])], ledger: .none)
        }

        try await store.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:aa")
        try await store.savePeer(.jpn, endpoint: "https://jpn.example:9443", fingerprint: "sha256:bb")
        let jpn = try await store.peer(.jpn)
        #expect(jpn.endpoint == "https://jpn.example:9443" && jpn.fingerprint == "sha256:bb" && jpn.nextOutboundSequence == 1)
        try await store.recordPeerTreeHead(.jpn, size: 10, signed: [1], at: t0)
        try await store.recordPeerTreeHead(.jpn, size: 12, signed: [2], at: t0)
        await #expect(throws: StoreError(.conflict, "")) { try await store.recordPeerTreeHead(.jpn, size: 11, signed: [3], at: t0) }
        // Another head at the same size: a fork. The same head again is fine.
        await #expect(throws: StoreError(.conflict, "")) { try await store.recordPeerTreeHead(.jpn, size: 12, signed: [4], at: t0) }
        try await store.recordPeerTreeHead(.jpn, size: 12, signed: [2], at: t0)
        await #expect(throws: StoreError(.invalidInput, "")) {
            try await store.recordPeerTreeHead(.jpn, size: 13, signed: [5], at: Date(timeIntervalSince1970: 1e15))
        }
        #expect(try await store.peer(.jpn).treeSize == 12)
        #expect(try await store.peer(.jpn).treeHead == [2])
        await #expect(throws: StoreError(.notFound, "")) { try await store.recordPeerTreeHead(.usa, size: 1, signed: [1], at: t0) }
        _ = try await store.setPeerAlarm(.jpn, "tree head 12 is inconsistent with 10", ledger: recorded(.peerAlarm, [[1]]))
        #expect(try await store.peer(.jpn).alarm == "tree head 12 is inconsistent with 10")
        _ = try await store.setPeerAlarm(.jpn, nil, ledger: .none)
        #expect(try await store.peer(.jpn).alarm == nil)
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.setPeerAlarm(.usa, "x", ledger: .none) }
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.peer(.usa) }
        await #expect(throws: StoreError(.invalidInput, "")) { try await store.savePeer(.usa, endpoint: "", fingerprint: "x") }
        #expect(try await store.peers().map(\.party) == [.jpn])
        #expect(try await store.verify().isIntact)
    }

    public static func usersSessionsAndTokens(_ store: any NodeStore) async throws {
        let kim = UserRecord(
            name: "kim.analyst", displayName: "Kim Analyst", party: .kor, roles: [.analyst],
            clearance: Clearance(level: "II", expires: t0.addingTimeInterval(365 * 86_400)), categories: ["PROJECT:EAST-SEA"], createdAt: t0)
        let sizeBefore = try await store.size()
        try await store.createUser(kim, ledger: LedgerWrite([LedgerEntry(kind: .lifecycleStatement, at: t0, detail: "user kim.analyst created")], sign: nil))
        #expect(try await store.user("kim.analyst") == kim)
        #expect(try await store.size() == sizeBefore + 1)
        await #expect(throws: StoreError(.duplicate, "")) { try await store.createUser(kim, ledger: .none) }
        var bad = kim
        bad.name = "Kim Analyst"
        await #expect(throws: StoreError(.invalidInput, "")) { try await store.createUser(bad, ledger: .none) }
        bad = kim
        bad.categories = Set((0...300).map { "C\($0)" })
        bad.name = "other"
        await #expect(throws: StoreError(.oversized, "")) { try await store.createUser(bad, ledger: .none) }
        var promoted = kim
        promoted.roles = [.analyst, .releasingOfficer]
        promoted.clearance = nil
        promoted.credential = [1, 2, 3]
        try await store.updateUser(promoted, ledger: .none)
        #expect(try await store.user("kim.analyst") == promoted)
        var ghost = kim
        ghost.name = "ghost"
        await #expect(throws: StoreError(.notFound, "")) { try await store.updateUser(ghost, ledger: .none) }
        #expect(try await store.users().map(\.name) == ["kim.analyst"])
        // Lookups with malformed keys are refused as such (a NUL would reach PostgreSQL).
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.user("kim\u{0}") }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.statements(agreement: "tisa\u{0}") }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.session(tokenHash: [1, 2], now: t0) }

        let token = MerkleHash.leaf(Array("session-secret".utf8))
        try await store.createSession(SessionRecord(tokenHash: token, user: "kim.analyst", createdAt: t0, expiresAt: t0.addingTimeInterval(3600)))
        await #expect(throws: StoreError(.duplicate, "")) {
            try await store.createSession(SessionRecord(tokenHash: token, user: "kim.analyst", createdAt: t0, expiresAt: t0.addingTimeInterval(3600)))
        }
        await #expect(throws: StoreError(.notFound, "")) {
            try await store.createSession(SessionRecord(tokenHash: MerkleHash.leaf([9]), user: "ghost", createdAt: t0, expiresAt: t0.addingTimeInterval(60)))
        }
        #expect(try await store.session(tokenHash: token, now: t0.addingTimeInterval(10)).1.name == "kim.analyst")
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.session(tokenHash: token, now: t0.addingTimeInterval(3600)) }

        let secret = MerkleHash.leaf(Array("api-secret".utf8))
        let apiToken = APITokenRecord(
            id: "tok_1", name: "TAXII feed", user: "kim.analyst", tokenHash: secret, scopes: ["taxii:read", "items:read"], createdAt: t0,
            expiresAt: t0.addingTimeInterval(86_400))
        try await store.createAPIToken(apiToken)
        await #expect(throws: StoreError(.duplicate, "")) { try await store.createAPIToken(apiToken) }
        var orphan = apiToken
        (orphan.id, orphan.user, orphan.tokenHash) = ("tok_2", "ghost", MerkleHash.leaf([8]))
        await #expect(throws: StoreError(.notFound, "")) { try await store.createAPIToken(orphan) }
        #expect(try await store.apiToken(tokenHash: secret, now: t0).0 == apiToken)
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.apiToken(tokenHash: secret, now: t0.addingTimeInterval(86_400)) }
        #expect(try await store.apiTokens(user: "kim.analyst") == [apiToken])
        // The look-ups by token give the whole session, token and user, every
        // column in its place: each time and each expiry differs from the others,
        // and one user has no credential, one token no expiry.
        var full = promoted
        full.clearance = Clearance(level: "II", expires: t0.addingTimeInterval(2 * 86_400))
        (full.failedLogins, full.lockedUntil, full.credential) = (2, t0.addingTimeInterval(30), nil)
        try await store.updateUser(full, ledger: .none)
        let second = SessionRecord(
            tokenHash: MerkleHash.leaf(Array("session-2".utf8)), user: "kim.analyst", createdAt: t0.addingTimeInterval(7), expiresAt: t0.addingTimeInterval(7207))
        try await store.createSession(second)
        let (session, sessionUser) = try await store.session(tokenHash: second.tokenHash, now: t0.addingTimeInterval(10))
        #expect(session == second)
        #expect(sessionUser == full)
        let lasting = APITokenRecord(
            id: "tok_3", name: "no expiry", user: "kim.analyst", tokenHash: MerkleHash.leaf(Array("api-3".utf8)), scopes: ["taxii:read"],
            createdAt: t0.addingTimeInterval(11), expiresAt: nil)
        try await store.createAPIToken(lasting)
        let (found, tokenUser) = try await store.apiToken(tokenHash: lasting.tokenHash, now: t0.addingTimeInterval(10 * 86_400))
        #expect(found == lasting)
        #expect(tokenUser == full)
        #expect(try await store.apiToken(tokenHash: secret, now: t0).1 == full)
        try await store.updateUser(promoted, ledger: .none)
        #expect(try await store.apiToken(tokenHash: secret, now: t0).1 == promoted)
        #expect(try await store.session(tokenHash: token, now: t0).1 == promoted)

        // Disabling the user ends its session and its tokens.
        var disabled = promoted
        disabled.disabled = true
        try await store.updateUser(disabled, ledger: .none)
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.session(tokenHash: token, now: t0) }
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.apiToken(tokenHash: secret, now: t0) }
        try await store.updateUser(promoted, ledger: .none)
        try await store.revokeSession(tokenHash: token)
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.session(tokenHash: token, now: t0) }
        try await store.revokeAPIToken(id: "tok_1")
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.apiToken(tokenHash: secret, now: t0) }
        await #expect(throws: StoreError(.notFound, "")) { try await store.revokeAPIToken(id: "tok_9") }
        await #expect(throws: StoreError(.notFound, "")) { try await store.revokeSession(tokenHash: MerkleHash.leaf([7])) }
    }

    /// Failed logins are counted; the limit-th in a row locks the user and
    /// starts the count again; a success clears both. Each failure is in the ledger.
    public static func loginLockOut(_ store: any NodeStore) async throws {
        let lee = UserRecord(name: "lee.officer", displayName: "Lee", party: .kor, roles: [.securityOfficer], clearance: nil, createdAt: t0)
        try await store.createUser(lee, ledger: .none)
        let until = t0.addingTimeInterval(900)
        let size = try await store.size()
        func fail() async throws -> UserRecord {
            try await store.recordLoginFailure(
                "lee.officer", limit: 3, lockUntil: until,
                ledger: LedgerWrite([LedgerEntry(kind: .accessRefused, at: t0, detail: "login of lee.officer failed")], sign: nil))
        }
        #expect(try await fail().failedLogins == 1)
        let second = try await fail()
        #expect(second.failedLogins == 2 && second.lockedUntil == nil)
        let third = try await fail()
        #expect(third.failedLogins == 0 && third.lockedUntil == until)
        #expect(try await store.user("lee.officer").lockedUntil == until)
        #expect(try await store.size() == size + 3)
        // While locked, a right password opens no session (two guesses racing the lock cannot get in).
        let during = SessionRecord(tokenHash: MerkleHash.leaf([1]), user: "lee.officer", createdAt: t0.addingTimeInterval(60), expiresAt: until)
        await #expect(throws: StoreError(.conflict, "")) { try await store.recordLoginSuccess(during, ledger: .none) }
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.session(tokenHash: during.tokenHash, now: t0.addingTimeInterval(61)) }
        let after = SessionRecord(tokenHash: MerkleHash.leaf([2]), user: "lee.officer", createdAt: until, expiresAt: until.addingTimeInterval(3600))
        try await store.recordLoginSuccess(after, ledger: LedgerWrite([LedgerEntry(kind: .signedIn, at: until, detail: "lee.officer logged in")], sign: nil))
        #expect(try await store.session(tokenHash: after.tokenHash, now: until.addingTimeInterval(1)).1.name == "lee.officer")
        let cleared = try await store.user("lee.officer")
        #expect(cleared.failedLogins == 0 && cleared.lockedUntil == nil)
        #expect(try await store.size() == size + 4)
        // Nobody to count, bad limits: refused, nothing recorded.
        await #expect(throws: StoreError(.notFound, "")) {
            _ = try await store.recordLoginFailure("nobody", limit: 3, lockUntil: until, ledger: LedgerWrite([LedgerEntry(kind: .accessRefused, at: t0, detail: "x")], sign: nil))
        }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.recordLoginFailure("lee.officer", limit: 0, lockUntil: until, ledger: .none) }
        await #expect(throws: StoreError(.notFound, "")) {
            try await store.recordLoginSuccess(SessionRecord(tokenHash: MerkleHash.leaf([3]), user: "nobody", createdAt: t0, expiresAt: until), ledger: .none)
        }
        #expect(try await store.size() == size + 4)
        // An administrator's update may unlock (or lock) directly.
        var locked = cleared
        locked.lockedUntil = until
        try await store.updateUser(locked, ledger: .none)
        #expect(try await store.user("lee.officer").lockedUntil == until)
    }
}

public import Foundation
public import LiaisonModel
public import LiaisonSealing

/// Everything a node keeps (DESIGN §2, §6): its items with their labels,
/// seals and payloads encrypted at rest; its holdings; the outbox and inbox
/// work queues; lifecycle statements; peers with their link sequence numbers
/// and latest tree heads; users, clearances, roles, sessions and API tokens
/// — and its ledger. Every mutating operation takes the ledger entries that
/// record it, and stores both in one transaction: an act is either done and
/// recorded, or neither (invariants 5 and 8).
///
/// Both back ends (SQLite, PostgreSQL) pass the same conformance suite,
/// `LiaisonTesting.NodeStoreConformance`.
public protocol NodeStore: LedgerStore {
    // MARK: Items and holdings

    /// Stores items (payloads encrypted with the node's storage key) and
    /// their holdings, with `ledger`, in one transaction. A duplicate item
    /// id or digest refuses the whole batch.
    func storeItems(_ items: [NewItem], ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt
    /// The item with its payload decrypted (`nil` once destroyed).
    func item(_ id: [UInt8]) async throws(StoreError) -> StoredItem
    /// Holdings in insertion order, after the given cursor.
    func holdings(after cursor: Int64?, limit: Int) async throws(StoreError) -> [Holding]
    /// Holdings newest first, before the given cursor.
    func holdings(before cursor: Int64?, limit: Int) async throws(StoreError) -> [Holding]
    /// Records a reclassification, a destruction or a compromise report
    /// against a held item (Art 8, 17), with `ledger`, and queues the
    /// statements that tell the parties concerned, in one transaction: the
    /// change is never recorded without the notice that reports it. A
    /// statement to a peer not known refuses the whole change.
    func changeHolding(
        _ id: [UInt8], _ change: HoldingChange, at: Date, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask])
    /// The recorded changes of an item, oldest first.
    func holdingEvents(_ id: [UInt8]) async throws(StoreError) -> [HoldingEvent]
    /// Events of one kind across every item, newest first, older than `before` (an event's sequence).
    func holdingEvents(kind: HoldingEvent.Kind, before: Int64?, limit: Int) async throws(StoreError) -> [ItemEvent]

    // MARK: Outbox

    /// Queues items for sending; each gets the next link sequence number
    /// of its peer. An item goes to a peer under an agreement once.
    func enqueueOutbox(_ requests: [OutboxRequest], at: Date, ledger: LedgerWrite) async throws(StoreError) -> [OutboxTask]
    /// Claims up to `limit` due tasks for `peer` (pending, or claimed by a
    /// lease that has run out) for `owner` until `now + lease`. Two
    /// replicas never hold the same task (`FOR UPDATE SKIP LOCKED`).
    func claimOutbox(peer: Party, owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [OutboxTask]
    /// Settles a task its owner holds, with `ledger`.
    func settleOutbox(_ id: Int64, owner: String, _ outcome: OutboxOutcome, at: Date, ledger: LedgerWrite) async throws(StoreError) -> OutboxTask
    func outboxTask(_ id: Int64) async throws(StoreError) -> OutboxTask
    /// Outbox tasks newest first, of one item or of all, below `before` (a task id).
    func outboxTasks(itemID: [UInt8]?, before: Int64?, limit: Int) async throws(StoreError) -> [OutboxTask]

    // MARK: Inbox

    /// Admits envelopes received from peers. A retried envelope (same peer,
    /// link sequence number and digest) is reported as a duplicate and
    /// stored once; the same sequence number with another digest refuses
    /// the whole batch (`.conflict`).
    func receiveInbox(_ envelopes: [InboundEnvelope], ledger: LedgerWrite) async throws(StoreError) -> [InboxAdmission]
    func claimInbox(owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [InboxTask]
    /// Settles a claimed envelope: accepted (its item is stored in the same
    /// transaction) or refused with a reason.
    func settleInbox(_ id: Int64, owner: String, _ outcome: InboxOutcome, at: Date, ledger: LedgerWrite) async throws(StoreError) -> InboxTask
    func inboxTask(_ id: Int64) async throws(StoreError) -> InboxTask

    // MARK: Federation: whole batches in one transaction

    /// What this node already has of an incoming batch: the inbox records
    /// of the peer's link sequence numbers, and which of the items it
    /// already holds (by id).
    func inboundState(peer: Party, sequences: [Int64], itemIDs: [[UInt8]]) async throws(StoreError) -> InboundState
    /// Records a batch received from a peer in one transaction: every new
    /// envelope's outcome (accepted, with its item stored unless already
    /// held; or refused, with its reason and bytes), and `ledger`, whose
    /// entry number `ledgerOffset` (within `ledger`) records each one. A
    /// link sequence number already recorded refuses the whole batch
    /// (`.duplicate`): the caller reads the earlier records and answers
    /// with them.
    func recordInbound(_ records: [NewInbound], items: [NewItem], ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt
    /// Settles many tasks its owner holds, with `ledger`, in one transaction;
    /// with the peer's tree heads their receipts name (each kept, and the
    /// latest recorded when larger than the one stored).
    func settleOutbox(_ outcomes: [SettledTask], owner: String, at: Date, ledger: LedgerWrite, peerHeads: [PeerHead]) async throws(StoreError)
        -> LedgerReceipt
    /// Items by id with their payloads decrypted, in the order asked.
    func items(_ ids: [[UInt8]]) async throws(StoreError) -> [StoredItem]
    /// Holdings by item id (metadata only: no payload is read), in the order asked.
    func holdings(_ ids: [[UInt8]]) async throws(StoreError) -> [Holding]
    /// A peer's outbox: how many tasks are in each state, the oldest task
    /// still waiting and the last error recorded.
    func outboxSummary(peer: Party) async throws(StoreError) -> OutboxSummary
    /// Keeps a signed tree head of a peer (a receipt's): the first one kept
    /// for a size stays. Does not move the peer's latest head.
    func keepPeerTreeHead(_ party: Party, size: Int, signed: [UInt8]) async throws(StoreError)
    /// The kept signed tree head of a peer at `size`.
    func peerTreeHead(_ party: Party, size: Int) async throws(StoreError) -> [UInt8]?

    /// The ledger entry that recorded a statement received from a peer (to
    /// answer a retry with it), if it was received.
    func statementReceipt(peer: Party, digest: [UInt8]) async throws(StoreError) -> Int?
    /// Remembers the entry that recorded a received statement; the first one stays.
    func keepStatementReceipt(peer: Party, digest: [UInt8], ledgerIndex: Int) async throws(StoreError)

    // MARK: Statements to send (their own queue: they name no held item)

    /// Queues signed statements for peers, with `ledger`.
    func enqueueStatements(_ requests: [StatementRequest], at: Date, ledger: LedgerWrite) async throws(StoreError) -> [StatementTask]
    /// Claims a peer's due statements, as ``claimOutbox(peer:owner:limit:now:lease:)``.
    func claimStatements(peer: Party, owner: String, limit: Int, now: Date, lease: TimeInterval) async throws(StoreError) -> [StatementTask]
    /// Settles claimed statements (`.delivered` carries the receipt proof), with `ledger`.
    func settleStatements(_ outcomes: [SettledTask], owner: String, at: Date, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt
    /// Statements not yet acknowledged (pending or claimed), oldest first; all peers when `peer` is nil.
    func unacknowledgedStatements(peer: Party?) async throws(StoreError) -> [StatementTask]
    func statementTask(_ id: Int64) async throws(StoreError) -> StatementTask

    // MARK: Statements

    /// Records signed lifecycle statements; one already stored (same
    /// digest) is skipped. Returns how many were new. `sending` is queued
    /// (at `at`) in the same transaction: a statement this node issues is
    /// never recorded without being sent to the other parties.
    func recordStatements(
        _ statements: [StoredStatement], ledger: LedgerWrite, sending: [StatementRequest], at: Date
    ) async throws(StoreError) -> (new: Int, tasks: [StatementTask])
    func statements(agreement: String) async throws(StoreError) -> [StoredStatement]

    // MARK: Consents received (Art 6(a))

    /// Keeps a received consent with the ledger entry recording it; a
    /// consent already kept (same originator and id) is a conflict.
    func keepConsent(_ consent: StoredConsent, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt
    /// The consents kept for any of the items, oldest first.
    func consents(itemDigests: [[UInt8]]) async throws(StoreError) -> [StoredConsent]
    /// Records a consent request (pending), with the ledger entry, and
    /// queues the statements that carry it to the originator, in one
    /// transaction; an id already recorded is a conflict.
    func recordConsentRequest(
        _ request: ConsentRequestRecord, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask])
    func consentRequest(_ id: String) async throws(StoreError) -> ConsentRequestRecord
    /// Requests newest first, those in `state` and about the item `itemDigest` when given.
    func consentRequests(state: ConsentRequestRecord.State?, itemDigest: [UInt8]?, limit: Int) async throws(StoreError) -> [ConsentRequestRecord]
    /// Answers a pending request (granted or denied) and queues the
    /// statements that carry the answer to the holder, with the ledger
    /// entries, in one transaction: the answer is never recorded without
    /// the statement that delivers it, nor sent without being recorded. A
    /// request answered already is a conflict, and nothing is changed or queued.
    func answerConsentRequest(
        _ id: String, _ state: ConsentRequestRecord.State, answer: String, at: Date, ledger: LedgerWrite, statements: [StatementRequest]
    ) async throws(StoreError) -> (receipt: LedgerReceipt, tasks: [StatementTask])

    // MARK: Peers

    /// Adds a peer or updates its endpoint and fingerprint (its sequence
    /// numbers and tree head are kept).
    func savePeer(_ party: Party, endpoint: String, fingerprint: String) async throws(StoreError)
    func peer(_ party: Party) async throws(StoreError) -> PeerRecord
    func peers() async throws(StoreError) -> [PeerRecord]
    /// Records the latest tree head seen from a peer (and keeps it among its
    /// heads by size, as ``keepPeerTreeHead(_:size:signed:)``); a smaller
    /// size than the one stored is refused (`.conflict`): a log never shrinks.
    func recordPeerTreeHead(_ party: Party, size: Int, signed: [UInt8], at: Date) async throws(StoreError)
    /// Raises (or with `nil` clears) an alarm about a peer, with `ledger`.
    func setPeerAlarm(_ party: Party, _ alarm: String?, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt

    // MARK: Users, sessions, API tokens

    /// Creates a user, with `ledger` (who created it, with what clearance).
    func createUser(_ user: UserRecord, ledger: LedgerWrite) async throws(StoreError)
    /// Replaces a user's record (not its name or creation time), with `ledger`.
    func updateUser(_ user: UserRecord, ledger: LedgerWrite) async throws(StoreError)
    /// Counts a failed login of an existing user, with `ledger`: the
    /// `limit`-th failure in a row locks the user until `lockUntil` (and
    /// starts the count again). Returns the user as it is now.
    func recordLoginFailure(_ name: String, limit: Int, lockUntil: Date, ledger: LedgerWrite) async throws(StoreError) -> UserRecord
    /// A successful login, in one transaction with `ledger`: unless the
    /// user is locked (or disabled) at the session's creation instant, the
    /// count of failures starts again and the session is created; a locked
    /// or disabled user is refused with `.conflict` and nothing changes.
    func recordLoginSuccess(_ session: SessionRecord, ledger: LedgerWrite) async throws(StoreError)
    func user(_ name: String) async throws(StoreError) -> UserRecord
    func users() async throws(StoreError) -> [UserRecord]
    func createSession(_ session: SessionRecord) async throws(StoreError)
    /// The live session with this token hash and its user: not revoked, not
    /// expired at `now`, user not disabled; otherwise `.notFound`.
    func session(tokenHash: [UInt8], now: Date) async throws(StoreError) -> (SessionRecord, UserRecord)
    func revokeSession(tokenHash: [UInt8]) async throws(StoreError)
    func createAPIToken(_ token: APITokenRecord) async throws(StoreError)
    /// The live token with this hash and its user, as for sessions.
    func apiToken(tokenHash: [UInt8], now: Date) async throws(StoreError) -> (APITokenRecord, UserRecord)
    func revokeAPIToken(id: String) async throws(StoreError)
    func apiTokens(user: String) async throws(StoreError) -> [APITokenRecord]
}

/// The ledger entries an operation records, and the signer of the tree
/// head at the new size.
public struct LedgerWrite: Sendable {
    public var entries: [LedgerEntry]
    public var sign: TreeHeadSigner?
    public init(_ entries: [LedgerEntry], sign: TreeHeadSigner?) {
        self.entries = entries
        self.sign = sign
    }
    /// An operation that records nothing (reads of the queue, a retry).
    public static let none = LedgerWrite([], sign: nil)

    /// The entries' encodings (none for ``none``), refused as every back end refuses them.
    public func encoded() throws(StoreError) -> [[UInt8]] {
        entries.isEmpty ? [] : try StoreLimits.encode(entries)
    }
}

/// Where an operation's ledger entries landed.
public struct LedgerReceipt: Hashable, Sendable {
    public var entries: Range<Int>
    public init(entries: Range<Int>) { self.entries = entries }
}

/// Where a held item came from.
public enum ItemSource: Hashable, Sendable {
    /// Created at this node by its own party.
    case originated
    /// Received from a peer under an agreement.
    case received(from: Party, agreement: String)
}

/// An item to store: the originator's sealed item and where it came from.
public struct NewItem: Sendable {
    public var sealed: SealedItem
    public var source: ItemSource
    public var at: Date
    public init(_ sealed: SealedItem, source: ItemSource, at: Date) {
        self.sealed = sealed
        self.source = source
        self.at = at
    }
}

public enum HoldingStatus: String, Hashable, Sendable, CaseIterable {
    case held, destroyed, compromised
}

/// An item held at this node: metadata only, never the payload.
public struct Holding: Hashable, Sendable {
    /// The holding's position in insertion order (the cursor of ``NodeStore/holdings(after:limit:)``).
    public var sequence: Int64
    public var itemID: [UInt8]
    public var digest: [UInt8]
    public var originator: Party
    /// The current label (the originator's, or its latest reclassification).
    public var label: SecurityLabel
    public var mediaType: String
    public var payloadSize: Int
    public var source: ItemSource
    public var at: Date
    public var status: HoldingStatus
    public init(
        sequence: Int64, itemID: [UInt8], digest: [UInt8], originator: Party, label: SecurityLabel, mediaType: String, payloadSize: Int,
        source: ItemSource, at: Date, status: HoldingStatus
    ) {
        (self.sequence, self.itemID, self.digest, self.originator, self.label) = (sequence, itemID, digest, originator, label)
        (self.mediaType, self.payloadSize, self.source, self.at, self.status) = (mediaType, payloadSize, source, at, status)
    }
}

/// An item as stored: the sealed form, the payload (decrypted; `nil` once
/// destroyed) and the holding.
public struct StoredItem: Sendable {
    public var manifest: ItemManifest
    public var seal: OriginSeal
    public var payload: [UInt8]?
    public var holding: Holding
    public init(manifest: ItemManifest, seal: OriginSeal, payload: [UInt8]?, holding: Holding) {
        (self.manifest, self.seal, self.payload, self.holding) = (manifest, seal, payload, holding)
    }
}

/// A change recorded against a held item, with its signed evidence.
public enum HoldingChange: Sendable {
    /// The originator's reclassification (Art 8): the new label and the
    /// signed notice. The originator cannot change.
    case reclassified(SecurityLabel, notice: [UInt8])
    /// Destruction: the payload is erased; the signed certificate is kept.
    case destroyed(certificate: [UInt8])
    /// A loss or compromise report (Art 17) made here: this copy is compromised.
    case compromised(report: [UInt8])
    /// A holder's loss or compromise report received by the originator
    /// (Art 17): kept with the originator's own copy, whose status stays.
    case compromiseReported(report: [UInt8])
}

/// A holding event together with the item it is about, for lists across items.
public struct ItemEvent: Hashable, Sendable {
    /// The event's position: newer events have larger ones (a cursor for paging).
    public var sequence: Int64
    public var itemID: [UInt8]
    public var event: HoldingEvent
    public init(sequence: Int64, itemID: [UInt8], event: HoldingEvent) { (self.sequence, self.itemID, self.event) = (sequence, itemID, event) }
}

public struct HoldingEvent: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case reclassified, destroyed, compromised }
    public var kind: Kind
    public var at: Date
    public var evidence: [UInt8]
    public init(kind: Kind, at: Date, evidence: [UInt8]) { (self.kind, self.at, self.evidence) = (kind, at, evidence) }
}

/// An item to send to a peer under an agreement, with the consents that
/// allow it (DER of signed consents; empty when this node is the originator).
public struct OutboxRequest: Sendable {
    public var itemID: [UInt8]
    public var peer: Party
    public var agreement: String
    public var consents: [[UInt8]]
    public init(itemID: [UInt8], peer: Party, agreement: String, consents: [[UInt8]] = []) {
        (self.itemID, self.peer, self.agreement, self.consents) = (itemID, peer, agreement, consents)
    }
}

public enum QueueState: String, Hashable, Sendable, CaseIterable {
    /// Waiting to be claimed (or to be retried once its time comes).
    case pending
    /// Held by an owner until its lease runs out.
    case claimed
    /// Done: delivered with a receipt (outbox) or accepted (inbox).
    case done
    /// Refused for good, with a reason.
    case refused
}

public struct OutboxTask: Hashable, Sendable {
    public var id: Int64
    public var itemID: [UInt8]
    public var peer: Party
    public var agreement: String
    public var consents: [[UInt8]]
    /// The link sequence number of the envelope: fixed at enqueue, reused by
    /// every retry, so that the receiver stores it once.
    public var linkSequence: Int64
    public var state: QueueState
    public var owner: String?
    public var leaseUntil: Date?
    public var attempts: Int
    public var notBefore: Date
    public var lastError: String?
    /// The peer's delivery receipt once delivered.
    public var receipt: [UInt8]?
    public init(
        id: Int64, itemID: [UInt8], peer: Party, agreement: String, consents: [[UInt8]], linkSequence: Int64, state: QueueState, owner: String?,
        leaseUntil: Date?, attempts: Int, notBefore: Date, lastError: String?, receipt: [UInt8]?
    ) {
        (self.id, self.itemID, self.peer, self.agreement, self.consents, self.linkSequence) = (id, itemID, peer, agreement, consents, linkSequence)
        (self.state, self.owner, self.leaseUntil, self.attempts, self.notBefore) = (state, owner, leaseUntil, attempts, notBefore)
        (self.lastError, self.receipt) = (lastError, receipt)
    }
}

public enum OutboxOutcome: Sendable {
    case delivered(receipt: [UInt8])
    /// A transient failure: back to pending, not before the given instant.
    case retry(error: String, notBefore: Date)
    case refused(reason: String)
}

/// An envelope as received from a peer, before anything is checked.
public struct InboundEnvelope: Sendable {
    public var peer: Party
    public var linkSequence: Int64
    public var digest: [UInt8]
    public var bytes: [UInt8]
    public var at: Date
    public init(peer: Party, linkSequence: Int64, digest: [UInt8], bytes: [UInt8], at: Date) {
        (self.peer, self.linkSequence, self.digest, self.bytes, self.at) = (peer, linkSequence, digest, bytes, at)
    }
}

public enum InboxAdmission: Hashable, Sendable {
    case new(Int64)
    /// Already received: the id of the stored envelope.
    case duplicate(Int64)
    public var id: Int64 {
        switch self {
        case .new(let id), .duplicate(let id): id
        }
    }
}

public struct InboxTask: Sendable {
    public var id: Int64
    public var peer: Party
    public var linkSequence: Int64
    public var digest: [UInt8]
    public var bytes: [UInt8]
    public var receivedAt: Date
    public var state: QueueState
    public var owner: String?
    public var leaseUntil: Date?
    /// The reason of a refusal.
    public var reason: String?
    /// The item stored when accepted.
    public var itemID: [UInt8]?
    public init(
        id: Int64, peer: Party, linkSequence: Int64, digest: [UInt8], bytes: [UInt8], receivedAt: Date, state: QueueState, owner: String?,
        leaseUntil: Date?, reason: String?, itemID: [UInt8]?
    ) {
        (self.id, self.peer, self.linkSequence, self.digest, self.bytes, self.receivedAt) = (id, peer, linkSequence, digest, bytes, receivedAt)
        (self.state, self.owner, self.leaseUntil, self.reason, self.itemID) = (state, owner, leaseUntil, reason, itemID)
    }
}

public enum InboxOutcome: Sendable {
    case accepted(NewItem)
    case refused(reason: String)
}

/// An envelope of a peer's batch, as recorded.
public struct InboundRecord: Hashable, Sendable {
    public var linkSequence: Int64
    /// The digest of the item the envelope carried.
    public var digest: [UInt8]
    public var state: QueueState
    public var reason: String?
    public var itemID: [UInt8]?
    /// The ledger entry that recorded it.
    public var ledgerIndex: Int?
    public init(linkSequence: Int64, digest: [UInt8], state: QueueState, reason: String?, itemID: [UInt8]?, ledgerIndex: Int?) {
        (self.linkSequence, self.digest, self.state, self.reason, self.itemID, self.ledgerIndex) =
            (linkSequence, digest, state, reason, itemID, ledgerIndex)
    }
}

public struct InboundState: Sendable {
    public var records: [Int64: InboundRecord]
    public var held: Set<[UInt8]>
    public init(records: [Int64: InboundRecord], held: Set<[UInt8]>) { (self.records, self.held) = (records, held) }
}

/// A new envelope of a peer's batch and its outcome.
public struct NewInbound: Sendable {
    public enum Outcome: Sendable {
        /// Accepted: the item (stored in the same transaction, or already held).
        case accepted(itemID: [UInt8])
        /// Refused: the reason, and the envelope kept as evidence.
        case refused(reason: String, envelope: [UInt8])
    }
    public var peer: Party
    public var linkSequence: Int64
    public var digest: [UInt8]
    public var at: Date
    public var outcome: Outcome
    /// Which of the operation's ledger entries records it.
    public var ledgerOffset: Int
    public init(peer: Party, linkSequence: Int64, digest: [UInt8], at: Date, outcome: Outcome, ledgerOffset: Int) {
        (self.peer, self.linkSequence, self.digest, self.at, self.outcome, self.ledgerOffset) = (peer, linkSequence, digest, at, outcome, ledgerOffset)
    }
}

extension NodeStore {
    /// The consents kept for an item, oldest first.
    public func consents(itemDigest: [UInt8]) async throws(StoreError) -> [StoredConsent] { try await consents(itemDigests: [itemDigest]) }

    /// Records a change with no statement to queue.
    public func changeHolding(_ id: [UInt8], _ change: HoldingChange, at: Date, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try await changeHolding(id, change, at: at, ledger: ledger, statements: []).receipt
    }

    /// Records statements received from peers, sending none.
    public func recordStatements(_ statements: [StoredStatement], ledger: LedgerWrite) async throws(StoreError) -> Int {
        try await recordStatements(statements, ledger: ledger, sending: [], at: Date()).new
    }

    /// Records a consent request with no statement to queue (one received from a holder).
    public func recordConsentRequest(_ request: ConsentRequestRecord, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try await recordConsentRequest(request, ledger: ledger, statements: []).receipt
    }

    /// Answers a pending request with no statement to queue (the holder's own record of an answer it received).
    public func answerConsentRequest(
        _ id: String, _ state: ConsentRequestRecord.State, answer: String, at: Date, ledger: LedgerWrite
    ) async throws(StoreError) -> LedgerReceipt {
        try await answerConsentRequest(id, state, answer: answer, at: at, ledger: ledger, statements: []).receipt
    }
}

/// A signed statement to send to a peer: its kind (as `StatementBundle`
/// numbers them), its DER, and the item it is about, if any.
public struct StatementRequest: Sendable {
    public var peer: Party
    public var kind: Int
    public var signed: [UInt8]
    public var itemID: [UInt8]?
    public init(peer: Party, kind: Int, signed: [UInt8], itemID: [UInt8]? = nil) {
        (self.peer, self.kind, self.signed, self.itemID) = (peer, kind, signed, itemID)
    }
}

public struct StatementTask: Hashable, Sendable {
    public var id: Int64
    public var peer: Party
    public var kind: Int
    public var signed: [UInt8]
    public var itemID: [UInt8]?
    public var state: QueueState
    public var queuedAt: Date
    public var attempts: Int
    public var lastError: String?
    /// The peer's receipt proof once recorded (or the reason once refused, in `lastError`).
    public var receipt: [UInt8]?
    public init(
        id: Int64, peer: Party, kind: Int, signed: [UInt8], itemID: [UInt8]?, state: QueueState, queuedAt: Date, attempts: Int, lastError: String?,
        receipt: [UInt8]?
    ) {
        (self.id, self.peer, self.kind, self.signed, self.itemID, self.state) = (id, peer, kind, signed, itemID, state)
        (self.queuedAt, self.attempts, self.lastError, self.receipt) = (queuedAt, attempts, lastError, receipt)
    }
}

/// A peer's signed tree head, verified by the caller.
public struct PeerHead: Sendable {
    public var party: Party
    public var size: Int
    public var signed: [UInt8]
    public var at: Date
    public init(party: Party, size: Int, signed: [UInt8], at: Date) { (self.party, self.size, self.signed, self.at) = (party, size, signed, at) }
}

extension NodeStore {
    public func settleOutbox(_ outcomes: [SettledTask], owner: String, at: Date, ledger: LedgerWrite) async throws(StoreError) -> LedgerReceipt {
        try await settleOutbox(outcomes, owner: owner, at: at, ledger: ledger, peerHeads: [])
    }
}

public struct SettledTask: Sendable {
    public var id: Int64
    public var outcome: OutboxOutcome
    public init(id: Int64, outcome: OutboxOutcome) { (self.id, self.outcome) = (id, outcome) }
}

/// A peer's outbox tasks delivered and refused, as its settlements add to
/// them: what its sync status reads instead of counting every task ever
/// sent (migration `v9-outbox-tally`).
public struct OutboxTally: Hashable, Sendable {
    public var done = 0
    public var refused = 0

    public init() {}

    /// Counts one task settled with `outcome` (a retry counts for neither).
    public mutating func add(_ outcome: OutboxOutcome) {
        switch outcome {
        case .delivered: done += 1
        case .refused: refused += 1
        case .retry: break
        }
    }

    public var isEmpty: Bool { done == 0 && refused == 0 }
}

public struct OutboxSummary: Hashable, Sendable {
    public var counts: [QueueState: Int]
    /// When the oldest task still pending or claimed was queued (its `not_before` at first).
    public var oldestWaiting: Date?
    public var lastError: String?
    public init(counts: [QueueState: Int], oldestWaiting: Date?, lastError: String?) {
        (self.counts, self.oldestWaiting, self.lastError) = (counts, oldestWaiting, lastError)
    }
}

/// A signed lifecycle statement on an agreement.
/// An originator's signed consent (Art 6(a)) received by the holder it
/// names, kept so that the holder's releases to the third party carry it.
public struct StoredConsent: Hashable, Sendable {
    public var id: String
    public var originator: Party
    public var itemDigest: [UInt8]
    public var holder: Party
    public var thirdParty: Party
    public var expiresAt: Date
    public var receivedAt: Date
    public var signed: [UInt8]
    public init(
        id: String, originator: Party, itemDigest: [UInt8], holder: Party, thirdParty: Party, expiresAt: Date, receivedAt: Date, signed: [UInt8]
    ) {
        (self.id, self.originator, self.itemDigest, self.holder, self.thirdParty) = (id, originator, itemDigest, holder, thirdParty)
        (self.expiresAt, self.receivedAt, self.signed) = (expiresAt, receivedAt, signed)
    }
}

/// A request for the originator's consent (Art 6(a)): sent by this node
/// as holder, or received by it as originator, with its answer.
public struct ConsentRequestRecord: Hashable, Sendable {
    public enum Direction: String, Hashable, Sendable { case sent, received }
    public enum State: String, Hashable, Sendable { case pending, granted, denied }
    public var id: String
    public var direction: Direction
    public var holder: Party
    public var originator: Party
    public var thirdParty: Party
    public var itemID: [UInt8]
    public var itemDigest: [UInt8]
    public var purpose: String?
    public var reason: String
    public var at: Date
    public var state: State
    /// The consent's id when granted; the originator's reason when denied.
    public var answer: String?
    public var answeredAt: Date?
    /// The signed request.
    public var signed: [UInt8]

    public init(
        id: String, direction: Direction, holder: Party, originator: Party, thirdParty: Party, itemID: [UInt8], itemDigest: [UInt8], purpose: String?,
        reason: String, at: Date, state: State = .pending, answer: String? = nil, answeredAt: Date? = nil, signed: [UInt8]
    ) {
        (self.id, self.direction, self.holder, self.originator, self.thirdParty) = (id, direction, holder, originator, thirdParty)
        (self.itemID, self.itemDigest, self.purpose, self.reason, self.at) = (itemID, itemDigest, purpose, reason, at)
        (self.state, self.answer, self.answeredAt, self.signed) = (state, answer, answeredAt, signed)
    }
}

public struct StoredStatement: Hashable, Sendable {
    public var digest: [UInt8]
    public var agreement: String
    public var party: Party
    public var act: String
    public var at: Date
    public var signed: [UInt8]
    public init(digest: [UInt8], agreement: String, party: Party, act: String, at: Date, signed: [UInt8]) {
        (self.digest, self.agreement, self.party, self.act, self.at, self.signed) = (digest, agreement, party, act, at, signed)
    }
}

public struct PeerRecord: Hashable, Sendable {
    public var party: Party
    public var endpoint: String
    public var fingerprint: String
    /// The link sequence number the next queued envelope to this peer gets.
    public var nextOutboundSequence: Int64
    /// The largest tree head seen from this peer, and its size.
    public var treeHead: [UInt8]?
    public var treeSize: Int?
    public var treeHeadAt: Date?
    public var alarm: String?
    public init(
        party: Party, endpoint: String, fingerprint: String, nextOutboundSequence: Int64, treeHead: [UInt8]?, treeSize: Int?, treeHeadAt: Date?,
        alarm: String?
    ) {
        (self.party, self.endpoint, self.fingerprint, self.nextOutboundSequence) = (party, endpoint, fingerprint, nextOutboundSequence)
        (self.treeHead, self.treeSize, self.treeHeadAt, self.alarm) = (treeHead, treeSize, treeHeadAt, alarm)
    }
}

/// A user's personnel security clearance (PSC): a level of the node's own
/// scheme, valid until a date.
public struct Clearance: Hashable, Sendable {
    public var level: String
    public var expires: Date
    public init(level: String, expires: Date) { (self.level, self.expires) = (level, expires) }
}

public struct UserRecord: Hashable, Sendable {
    public var name: String
    public var displayName: String
    public var party: Party
    public var roles: Set<Role>
    public var clearance: Clearance?
    /// Need-to-know categories the user holds (tag:value).
    public var categories: Set<String>
    /// The password verifier, if the user logs in with a password.
    public var credential: [UInt8]?
    public var disabled: Bool
    public var createdAt: Date
    /// Failed logins since the last success or lock-out.
    public var failedLogins: Int
    /// Refused logins until this instant (repeated failures).
    public var lockedUntil: Date?
    public init(
        name: String, displayName: String, party: Party, roles: Set<Role>, clearance: Clearance?, categories: Set<String> = [],
        credential: [UInt8]? = nil, disabled: Bool = false, createdAt: Date, failedLogins: Int = 0, lockedUntil: Date? = nil
    ) {
        (self.name, self.displayName, self.party, self.roles, self.clearance) = (name, displayName, party, roles, clearance)
        (self.categories, self.credential, self.disabled, self.createdAt) = (categories, credential, disabled, Instant.normalized(createdAt))
        (self.failedLogins, self.lockedUntil) = (failedLogins, lockedUntil.map(Instant.normalized))
    }
}

/// A console session: only the SHA-256 of its token is stored.
public struct SessionRecord: Hashable, Sendable {
    public var tokenHash: [UInt8]
    public var user: String
    public var createdAt: Date
    public var expiresAt: Date
    public init(tokenHash: [UInt8], user: String, createdAt: Date, expiresAt: Date) {
        (self.tokenHash, self.user) = (tokenHash, user)
        (self.createdAt, self.expiresAt) = (Instant.normalized(createdAt), Instant.normalized(expiresAt))
    }
}

/// An operator API token: only the SHA-256 of its secret is stored.
public struct APITokenRecord: Hashable, Sendable {
    public var id: String
    public var name: String
    public var user: String
    public var tokenHash: [UInt8]
    public var scopes: Set<String>
    public var createdAt: Date
    public var expiresAt: Date?
    public var revoked: Bool
    public init(
        id: String, name: String, user: String, tokenHash: [UInt8], scopes: Set<String>, createdAt: Date, expiresAt: Date?, revoked: Bool = false
    ) {
        (self.id, self.name, self.user, self.tokenHash, self.scopes) = (id, name, user, tokenHash, scopes)
        (self.createdAt, self.expiresAt, self.revoked) = (Instant.normalized(createdAt), expiresAt.map(Instant.normalized), revoked)
    }
}

public import Foundation
public import LiaisonModel
public import LiaisonSealing
public import LiaisonStore
public import Logging
internal import Synchronization

/// One node's side of the federation (DESIGN §2, invariants 1, 2, 5, 6):
/// releasing items into the outbox, sending them to peers in batches and
/// keeping their receipts, receiving peers' batches with a full re-check,
/// and watching peers' ledgers for forks. The agreements' state is computed
/// from their documents and statements at the instant of each act; the
/// statements a peer sends update it.
public final class Federation: Sendable {
    public struct Configuration: Sendable {
        /// Envelopes per batch a sender claims and seals at once.
        public var batchSize = 1000
        /// Batches in flight per peer (each a worker claiming its own tasks).
        public var pipeline = 2
        /// How far a received envelope's sealing instant may be from this
        /// node's clock (replays and clock skew). Retries are sealed anew,
        /// so this bounds only how stale a captured batch may be.
        public var replayWindow: TimeInterval = 300
        /// How long a claimed task stays with its sender before another may take it.
        public var lease: TimeInterval = 60
        /// Retry backoff: first delay and cap, with ±50 % jitter.
        public var retryBase: TimeInterval = 0.2
        public var retryCap: TimeInterval = 30
        /// How long an idle sender waits before looking again (it is woken
        /// at once when this node releases an item).
        public var idlePoll: TimeInterval = 0.5
        /// Envelopes a received batch may carry.
        public var maximumBatch = 4096
        public init() {}
    }

    public let party: Party
    public let store: any NodeStore
    public let configuration: Configuration
    let signing: SigningKey
    let decryption: DecryptionKey
    let trust: TrustStore
    let clock: @Sendable () -> Date
    let logger: Logger
    /// The owner name this process claims outbox tasks under.
    let owner: String
    let state: Mutex<State>
    let wake: Wake
    /// Serialises changes to the agreements' statements.
    let statementsLock = AsyncLock()
    /// One answer to a consent request at a time: a grant and a denial made together cannot both pass.
    let answersLock = AsyncLock()
    /// Single releases made while one is written are written together in the
    /// next transaction (not signed: the sender's settlement or the next
    /// checkpoint signs a head over their entries).
    let releases = CoalescingQueue<PendingRelease, OutboxTask>(limit: (1000, .max))
    /// Originations made while one is sealed are sealed together in the
    /// next tree: one hybrid signature (about 1 ms of ML-DSA-65 here, most of
    /// what a small origination costs) for concurrent writers. Each caller
    /// stores its own items, so one group's durable write overlaps the next
    /// group's sealing. A group is at most one store batch.
    let originations = Federation.originationQueue()

    typealias Origination = (label: SecurityLabel, mediaType: String, payload: [UInt8])

    /// Seals a group's originations in one tree and gives each caller its
    /// own items back, in order; a sealing that returns another number of
    /// items than it was given fails the group.
    static func sealTogether(_ calls: [[Origination]], _ seal: ([Origination]) throws -> [SealedItem]) throws(FederationError) -> [[SealedItem]] {
        let items = calls.flatMap { $0 }
        var sealed: ArraySlice<SealedItem>
        do { sealed = try seal(items)[...] } catch let e as FederationError { throw e } catch {
            throw FederationError(.refused, "the items cannot be sealed: \(error)")
        }
        guard sealed.count == items.count else { throw FederationError(.unavailable, "the sealer returned \(sealed.count) items for \(items.count)") }
        return calls.map { call in
            defer { sealed = sealed.dropFirst(call.count) }
            return Array(sealed.prefix(call.count))
        }
    }

    static func originationQueue() -> CoalescingQueue<[Origination], [SealedItem]> {
        CoalescingQueue(limit: (NodeRules.maximumItemsPerBatch, NodeRules.maximumBatchBytes), weight: { ($0.count, $0.reduce(0) { $0 + $1.payload.count }) })
    }
    /// Serialises the checks of each peer's tree heads.
    let headLocks = Mutex<[Party: AsyncLock]>([:])

    func headLock(_ peer: Party) -> AsyncLock {
        headLocks.withLock { locks in
            if let l = locks[peer] { return l }
            let l = AsyncLock()
            locks[peer] = l
            return l
        }
    }

    struct State {
        var book: AgreementBook
        var lastSuccess: [Party: Date] = [:]
        var lastError: [Party: String] = [:]
        var sent: [Party: Int] = [:]
        var received: [Party: Int] = [:]
        var refused: [String: Int] = [:]
        var deliveryObservers: [@Sendable (_ tasks: [Int64], _ at: Date) -> Void] = []
        var phaseObservers: [@Sendable (_ peer: Party, _ phase: ExchangePhase, _ took: Duration) -> Void] = []
        /// Alarms raised in this process, in force even if storing them failed.
        var alarms: [Party: String] = [:]
        /// Consecutive gossip rounds in which a peer gave no consistency proof.
        var unproven: [Party: Int] = [:]
        /// The largest head verified of each peer, before it is stored.
        var verifiedHeads: [Party: SignedTreeHead] = [:]
    }

    /// The alarm about a peer, stored or raised in this process.
    func alarm(of peer: Party, stored: String?) -> String? {
        stored ?? state.withLock { $0.alarms[peer] }
    }

    /// Calls `observer` with the outbox tasks a sender settled as delivered
    /// (their receipts verified and stored), as it settles them: for
    /// latency measurement and metrics.
    public func observeDeliveries(_ observer: @escaping @Sendable (_ tasks: [Int64], _ at: Date) -> Void) {
        state.withLock { $0.deliveryObservers.append(observer) }
    }

    /// Calls `observer` with the time each step of an exchange took, on
    /// both sides (``ExchangePhase``): for `/metrics` and the bench, so that
    /// a slow link shows where its time goes.
    public func observePhases(_ observer: @escaping @Sendable (_ peer: Party, _ phase: ExchangePhase, _ took: Duration) -> Void) {
        state.withLock { $0.phaseObservers.append(observer) }
    }

    /// Reports that `phase` of an exchange with `peer` began at `start` and ends now.
    func timed(_ phase: ExchangePhase, _ peer: Party, since start: ContinuousClock.Instant) {
        let observers = state.withLock { $0.phaseObservers }
        guard !observers.isEmpty else { return }
        let took = ContinuousClock.now - start
        for o in observers { o(peer, phase, took) }
    }

    public init(
        party: Party, store: any NodeStore, signing: SigningKey, decryption: DecryptionKey, trust: TrustStore, book: AgreementBook,
        configuration: Configuration = .init(), logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.party = party
        self.store = store
        self.signing = signing
        self.decryption = decryption
        self.trust = trust
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.owner = "\(party)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))"
        self.state = Mutex(State(book: book))
        self.wake = Wake()
    }

    /// The agreements as this node knows them now.
    public var book: AgreementBook { state.withLock { $0.book } }

    /// Signs this node's tree heads at the instant of each append.
    public var treeHeadSigner: TreeHeadSigner { signer }

    var signer: TreeHeadSigner {
        let key = signing, me = party, clock = clock
        return { size, root in try Signed(signing: TreeHead(party: me, size: size, root: root, at: clock()), with: key) }
    }

    // MARK: Releasing (invariant 1)

    /// Queues an item for a peer under an agreement if the release policy
    /// permits it now (the sender checks again when it seals). The release
    /// and any refusal are in the ledger.
    @discardableResult
    public func release(
        itemID: [UInt8], to peer: Party, agreement: Agreement.ID, consents: [Signed<ConsentBody>] = []
    ) async throws(FederationError) -> OutboxTask {
        let now = clock()
        // The holding is enough to decide (the payload is read when it is sealed).
        let holding = try await storeCall { () throws(StoreError) in try await store.holdings([itemID]) }[0]
        var consents = consents
        if consents.isEmpty, holding.originator != party { consents = try await keptConsents([holding.digest], for: peer, at: now)[holding.digest] ?? [] }
        let decision =
            holding.status == .held
            ? releaseDecision(label: holding.label, digest: holding.digest, to: peer, agreement: agreement, consents: consents, at: now)
            : .refuse(.invalidInState, .lifecycle, "the item is \(holding.status.rawValue)")
        if case .refused(let r) = decision {
            let entry = LedgerEntry(
                kind: .itemRefused, at: now, party: peer, subjects: [holding.digest], detail: "not released under \(agreement): \(r.description)")
            _ = try? await store.append([entry], sign: signer)
            count(refusal: r.code.name)
            throw FederationError(.refused, r.description, refusal: r)
        }
        let entry = LedgerEntry(kind: .itemSent, at: now, party: peer, subjects: [holding.digest], detail: "released under \(agreement), queued")
        // Releases made while one is being written are written together.
        let pending = PendingRelease(
            request: OutboxRequest(itemID: itemID, peer: peer, agreement: agreement, consents: consents.map(\.derBytes)), entry: entry, at: now)
        let task = try await releases.submit(pending, run: PendingRelease.writer(store))
        wake.signal(peer)
        return task
    }

    /// Releases many items to one peer: each checked as ``release(itemID:to:agreement:consents:)``
    /// checks it, with the originator's consents this node keeps for an item
    /// it did not originate; the permitted ones queued in one transaction.
    /// Returns the queued tasks and the refusals, by item id.
    public func release(
        _ itemIDs: [[UInt8]], to peer: Party, agreement: Agreement.ID
    ) async throws(FederationError) -> (queued: [OutboxTask], refused: [(itemID: [UInt8], refusal: Refusal)]) {
        let now = clock()
        let holdings = try await storeCall { () throws(StoreError) in try await store.holdings(itemIDs) }
        var requests: [OutboxRequest] = [], entries: [LedgerEntry] = [], refused: [([UInt8], Refusal)] = []
        var memo = DecisionMemo()
        // The consents kept for the items this node did not originate, read at once.
        let foreign = holdings.filter { $0.originator != party }.map(\.digest)
        let kept = foreign.isEmpty ? [:] : try await keptConsents(foreign, for: peer, at: now)
        for h in holdings {
            let digest = h.digest
            let consents = kept[digest] ?? []
            let decision =
                h.status != .held
                ? .refuse(.invalidInState, .lifecycle, "the item is \(h.status.rawValue)")
                : consents.isEmpty
                    ? memo.decision(h.label, peer, agreement) { releaseDecision(label: h.label, digest: digest, to: peer, agreement: agreement, consents: [], at: now) }
                    : releaseDecision(label: h.label, digest: digest, to: peer, agreement: agreement, consents: consents, at: now)
            switch decision {
            case .permitted:
                requests.append(OutboxRequest(itemID: h.itemID, peer: peer, agreement: agreement, consents: consents.map(\.derBytes)))
                entries.append(LedgerEntry(kind: .itemSent, at: now, party: peer, subjects: [digest], detail: "released under \(agreement), queued"))
            case .refused(let r):
                refused.append((h.itemID, r))
                entries.append(
                    LedgerEntry(kind: .itemRefused, at: now, party: peer, subjects: [digest], detail: "not released under \(agreement): \(r.description)"))
                count(refusal: r.code.name)
            }
        }
        if requests.isEmpty {
            _ = try await storeCall { () throws(StoreError) in try await store.append(entries, sign: signer) }
            return ([], refused)
        }
        let tasks = try await storeCall { () throws(StoreError) in
            try await store.enqueueOutbox(requests, at: now, ledger: LedgerWrite(entries, sign: nil))
        }
        wake.signal(peer)
        return (tasks, refused)
    }

    /// A holder passing an item on carries the originator's consents it
    /// keeps for this recipient, still in force (Art 6(a)).
    /// By item digest.
    func keptConsents(_ digests: [[UInt8]], for peer: Party, at now: Date) async throws(FederationError) -> [[UInt8]: [Signed<ConsentBody>]] {
        var out: [[UInt8]: [Signed<ConsentBody>]] = [:]
        for c in try await storeCall({ () throws(StoreError) in try await store.consents(itemDigests: digests) })
        where c.holder == party && c.thirdParty == peer && c.expiresAt > now {
            if let signed = try? Signed<ConsentBody>(canonical: c.signed) { out[c.itemDigest, default: []].append(signed) }
        }
        return out
    }

    /// Release decisions without consents depend only on the label, the
    /// recipient, the agreement and the instant: within one batch (one
    /// instant) items that share a label share the decision.
    struct DecisionMemo {
        struct Key: Hashable {
            let label: SecurityLabel, party: Party, agreement: String
        }
        private var known: [Key: Decision] = [:]
        mutating func decision(_ label: SecurityLabel, _ party: Party, _ agreement: String, _ compute: () -> Decision) -> Decision {
            let key = Key(label: label, party: party, agreement: agreement)
            if let d = known[key] { return d }
            let d = compute()
            known[key] = d
            return d
        }
    }

    /// The release policy for this node as holder, with the consents verified against the originator's pinned key.
    func releaseDecision(
        label: SecurityLabel, digest: [UInt8], to peer: Party, agreement: Agreement.ID, consents: [Signed<ConsentBody>], at now: Date
    ) -> Decision {
        var verified: [Consent] = []
        for c in consents {
            guard let body = try? c.verified(by: trust) else {
                return .refuse(.consentInvalid, .thirdParty, "consent \(c.body.consent.id) does not verify against \(c.body.consent.originator)'s pinned key")
            }
            verified.append(body.consent)
        }
        let request = ReleaseRequest(
            item: ItemFacts(digest: Hex.encode(digest), label: label), holder: party, recipient: peer, agreement: agreement, instant: now,
            consents: verified)
        return ReleasePolicy.evaluate(request, book: book)
    }

    /// Signs a head over entries appended without one (releases), if any:
    /// the node's runtime calls it every second.
    @discardableResult
    public func checkpoint() async throws(FederationError) -> SignedTreeHead? {
        try await storeCall { () throws(StoreError) in try await store.signTreeHead(signer) }
    }

    // MARK: Statements this node learns

    /// Replaces an agreement's statements (after a statement was recorded).
    public func update(_ lifecycle: AgreementLifecycle) {
        state.withLock { $0.book.insert(lifecycle) }
    }

    // MARK: Status (no silent failure)

    /// The sync state of every peer: queued, in flight, delivered,
    /// refused, last success, last error, lag, alarm, tree size.
    public func status() async throws(FederationError) -> [PeerStatus] {
        let peers = try await storeCall { () throws(StoreError) in try await store.peers() }
        let now = clock()
        var out: [PeerStatus] = []
        for p in peers {
            let s = try await storeCall { () throws(StoreError) in try await store.outboxSummary(peer: p.party) }
            let (success, error, sent, received) = state.withLock { ($0.lastSuccess[p.party], $0.lastError[p.party], $0.sent[p.party], $0.received[p.party]) }
            out.append(
                PeerStatus(
                    party: p.party, endpoint: p.endpoint, queued: s.counts[.pending] ?? 0, inFlight: s.counts[.claimed] ?? 0,
                    delivered: s.counts[.done] ?? 0, refused: s.counts[.refused] ?? 0, lastSuccess: success,
                    lastError: error ?? s.lastError, lag: s.oldestWaiting.map { max(0, now.timeIntervalSince($0)) } ?? 0,
                    alarm: p.alarm, treeSize: p.treeSize, sentThisRun: sent ?? 0, receivedThisRun: received ?? 0))
        }
        return out
    }

    /// Refusals counted by reason code since the start.
    public var refusalCounts: [String: Int] { state.withLock { $0.refused } }

    func count(refusal code: String) { state.withLock { $0.refused[code, default: 0] += 1 } }

    func storeCall<T>(_ body: () async throws(StoreError) -> T) async throws(FederationError) -> T {
        do { return try await body() } catch { throw FederationError(error) }
    }
}

/// What a security officer sees of a peer link.
public struct PeerStatus: Hashable, Sendable {
    public var party: Party
    public var endpoint: String
    public var queued: Int
    public var inFlight: Int
    public var delivered: Int
    public var refused: Int
    public var lastSuccess: Date?
    public var lastError: String?
    /// Seconds the oldest waiting task has waited.
    public var lag: TimeInterval
    public var alarm: String?
    public var treeSize: Int?
    public var sentThisRun: Int
    public var receivedThisRun: Int
}

/// Wakes a peer's senders when this node queues something for it. A
/// signal that comes while a sender is busy is kept for its next wait.
final class Wake: Sendable {
    struct Waiter {
        var peer: Party
        var signalled = false
        var waiting: (token: Int, continuation: CheckedContinuation<Void, Never>)?
    }
    private let waiters = Mutex<(next: Int, all: [Int: Waiter])>((0, [:]))

    func subscribe(_ peer: Party) -> Int {
        waiters.withLock { w in
            w.next += 1
            w.all[w.next] = Waiter(peer: peer)
            return w.next
        }
    }

    func unsubscribe(_ id: Int) {
        let c = waiters.withLock { $0.all.removeValue(forKey: id)?.waiting?.continuation }
        c?.resume()
    }

    func signal(_ peer: Party) {
        let ready = waiters.withLock { w -> [CheckedContinuation<Void, Never>] in
            var out: [CheckedContinuation<Void, Never>] = []
            for (id, var waiter) in w.all where waiter.peer == peer {
                if let c = waiter.waiting?.continuation {
                    out.append(c)
                    waiter.waiting = nil
                } else {
                    waiter.signalled = true
                }
                w.all[id] = waiter
            }
            return out
        }
        for c in ready { c.resume() }
    }

    /// Returns when signalled (now, if a signal came since the last wait) or after `timeout`.
    func wait(_ id: Int, timeout: TimeInterval) async {
        let token = Int.random(in: 1...Int.max)
        let timer = Mutex<Task<Void, Never>?>(nil)
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            // Registered first, then the timer: the timer always finds it (or finds it resumed).
            let now = waiters.withLock { w -> Bool in
                guard var waiter = w.all[id] else { return true }
                if waiter.signalled || Task.isCancelled {
                    waiter.signalled = false
                    w.all[id] = waiter
                    return true
                }
                waiter.waiting = (token, c)
                w.all[id] = waiter
                return false
            }
            if now {
                c.resume()
                return
            }
            let t = Task {
                try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                let c = waiters.withLock { w -> CheckedContinuation<Void, Never>? in
                    guard let waiting = w.all[id]?.waiting, waiting.token == token else { return nil }
                    w.all[id]?.waiting = nil
                    return waiting.continuation
                }
                c?.resume()
            }
            timer.withLock { $0 = t }
        }
        timer.withLock { $0?.cancel() }
    }
}

extension Federation {
    /// Seals items as their originator (this node's party) and stores them,
    /// with their sealing in the ledger. The entries are not signed one
    /// write at a time: the next checkpoint (each second while the node
    /// runs) or the next signed write covers them with a signed head.
    ///
    /// Originations made while another is being sealed are sealed together
    /// in the next tree (``originations``); each is stored on its own,
    /// so that sealing one group overlaps storing the one before.
    public func originate(_ items: [(label: SecurityLabel, mediaType: String, payload: [UInt8])]) async throws(FederationError) -> [SealedItem] {
        guard !items.isEmpty else { throw FederationError(.malformed, "an origination carries at least one item") }
        for i in items where i.label.originator != party {
            throw FederationError(.refused, "\(Article.reclassification): only \(i.label.originator) seals its items; this node is \(party)")
        }
        let (signing, party, clock) = (signing, party, clock)
        let sealed = try await originations.submit(items) { group in
            try Self.sealTogether(group) { try signing.sealOrigin($0, originator: party, at: clock()) }
        }
        let at = sealed[0].seal.root.sealedAt
        let entries = sealed.map { LedgerEntry(kind: .itemSealed, at: at, subjects: [$0.manifest.digest], detail: "sealed at \($0.manifest.label.level)") }
        _ = try await storeCall { () throws(StoreError) in
            try await store.storeItems(sealed.map { NewItem($0, source: .originated, at: at) }, ledger: LedgerWrite(entries, sign: nil))
        }
        return sealed
    }
}

extension Federation {
    /// A reader asks for an item (invariant 3, Art 7): permitted only with a
    /// clearance at the local equivalent of its level and every needed
    /// category; the read or the refusal is recorded in the ledger either way
    /// (Art 6(e)). Protection survives the agreement (Art 21): the check uses
    /// the agreement the item came by even after it terminated.
    public func read(_ itemID: [UInt8], by reader: Reader) async throws(FederationError) -> (decision: Decision, item: StoredItem?) {
        let item = try await storeCall { () throws(StoreError) in try await store.item(itemID) }
        return try await read([item], by: reader)[0]
    }

    /// Reads several items at once (a page of a feed): each decided as
    /// ``read(_:by:)`` decides, every read and refusal in one ledger write.
    public func read(_ itemIDs: [[UInt8]], by reader: Reader) async throws(FederationError) -> [(decision: Decision, item: StoredItem?)] {
        guard !itemIDs.isEmpty else { return [] }
        let items = try await storeCall { () throws(StoreError) in try await store.items(itemIDs) }
        return try await read(items, by: reader)
    }

    /// Reads items already fetched (and decrypted) from the store: the
    /// access policy decides each, every read and refusal in one ledger write.
    public func read(items: [StoredItem], by reader: Reader) async throws(FederationError) -> [(decision: Decision, item: StoredItem?)] {
        guard !items.isEmpty else { return [] }
        return try await read(items, by: reader)
    }

    func read(_ items: [StoredItem], by reader: Reader) async throws(FederationError) -> [(decision: Decision, item: StoredItem?)] {
        let now = clock()
        let book = self.book
        guard let home = book.lifecycles.values.sorted(by: { $0.agreement.id < $1.agreement.id }).lazy.compactMap({ $0.agreement.scheme(of: self.party) }).first
        else {
            throw FederationError(.notFound, "no classification scheme of \(party) is known to this node")
        }
        var out: [(decision: Decision, item: StoredItem?)] = []
        var entries: [LedgerEntry] = []
        for item in items {
            var agreement: Agreement?
            if case .received(_, let id) = item.holding.source { agreement = book[id]?.agreement }
            let scheme = agreement?.scheme(of: party) ?? home
            var decision = AccessPolicy.evaluate(
                AccessRequest(
                    reader: reader, item: ItemFacts(digest: Hex.encode(item.manifest.digest), label: item.holding.label), node: party,
                    localScheme: scheme, agreement: agreement, instant: now))
            if decision.isPermitted, item.payload == nil {
                decision = .refuse(.invalidInState, .access, "the item was destroyed")
            }
            switch decision {
            case .permitted: entries.append(LedgerEntry(kind: .itemRead, at: now, subjects: [item.manifest.digest], detail: "read by \(reader.name)"))
            case .refused(let r):
                entries.append(
                    LedgerEntry(kind: .accessRefused, at: now, subjects: [item.manifest.digest], detail: "\(reader.name) refused: \(r.description)"))
                count(refusal: r.code.name)
            }
            out.append((decision, decision.isPermitted ? item : nil))
        }
        _ = try await storeCall { () throws(StoreError) in try await store.append(entries, sign: signer) }
        return out
    }
}

/// A single release waiting to be written with others (``Federation/releases``).
struct PendingRelease: Sendable {
    let request: OutboxRequest
    let entry: LedgerEntry
    let at: Date

    /// Writes a group of releases to `store` in one transaction.
    static func writer(_ store: any NodeStore) -> CoalescingQueue<PendingRelease, OutboxTask>.Run {
        { group in
            do {
                return try await store.enqueueOutbox(group.map(\.request), at: group.map(\.at).max()!, ledger: LedgerWrite(group.map(\.entry), sign: nil))
            } catch let e as StoreError { throw FederationError(e) }
        }
    }
}

/// The steps of one batch's exchange, as ``Federation/observePhases(_:)``
/// reports them. A sender's round is claim, read, seal, transport (the
/// peer's whole handling included), verify and settle; the receiver's
/// handling of it is decode, open, record and prove.
public enum ExchangePhase: String, Sendable, CaseIterable {
    /// The sender claims the peer's due tasks.
    case claim
    /// The sender reads the claimed items (decrypted from rest, seals checked).
    case read
    /// The sender checks each release again and seals the batch (one hybrid signature).
    case seal
    /// The batch to the peer and its reply back, the peer's handling included.
    case transport
    /// The sender verifies the reply: the peer's signed head, its consistency, every receipt.
    case verify
    /// The sender records every outcome and receipt (one durable write).
    case settle
    /// The receiver decodes the batch and checks who sent it.
    case decode
    /// The receiver reads what it already holds and opens every envelope (both signatures, origin seals).
    case open
    /// The receiver applies the rules and records the outcomes, its head signed (one durable write).
    case record
    /// The receiver computes the receipts' inclusion proofs and the consistency proof.
    case prove

    /// `send` or `receive`.
    public var side: String {
        switch self {
        case .claim, .read, .seal, .transport, .verify, .settle: "send"
        case .decode, .open, .record, .prove: "receive"
        }
    }
}

public import Foundation
public import LiaisonModel
public import LiaisonSealing

/// The checks every back end runs before it writes, so that bad input gets
/// the same specific refusal from SQLite and PostgreSQL and nothing is
/// written; and the encodings of the few list-valued columns.
public enum NodeRules {
    public static let maximumItemsPerBatch = 10_000
    public static let maximumPayloadBytes = 16 << 20
    /// Payload bytes in one batch (one transaction, one statement on PostgreSQL).
    public static let maximumBatchBytes = 256 << 20
    public static let maximumEvidenceBytes = 1 << 20
    public static let maximumTextBytes = 4096
    public static let maximumClaim = 10_000
    public static let maximumLease: TimeInterval = 86_400

    /// The node's storage key, which items need to be stored or read.
    public static func storageKey(_ key: StorageKey?) throws(StoreError) -> StorageKey {
        guard let key else {
            throw StoreError(.invalidInput, "the store was opened without the node's storage key: items cannot be stored or read")
        }
        return key
    }

    static func batch(_ count: Int, _ what: String) throws(StoreError) {
        guard count > 0 else { throw StoreError(.invalidInput, "a batch of \(what) carries at least one") }
        guard count <= maximumItemsPerBatch else {
            throw StoreError(.oversized, "\(count) \(what) in one batch; the limit is \(maximumItemsPerBatch)")
        }
    }

    public static func text(_ s: String, _ field: String, max: Int = maximumTextBytes, allowEmpty: Bool = false) throws(StoreError) {
        guard allowEmpty || !s.isEmpty else { throw StoreError(.invalidInput, "\(field) is empty") }
        guard s.utf8.count <= max else { throw StoreError(.oversized, "\(field) is \(s.utf8.count) bytes; the limit is \(max)") }
        guard !s.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" || $0.value == 0x7F }) else {
            throw StoreError(.invalidInput, "\(field) contains a control character")
        }
    }

    /// An instant the store (and the wire) can carry: years 1 to 9999.
    public static func instant(_ d: Date, _ field: String) throws(StoreError) {
        guard Instant.isRepresentable(d) else { throw StoreError(.invalidInput, "\(field) is not an instant between the years 1 and 9999") }
    }

    public static func digest(_ d: [UInt8], _ field: String) throws(StoreError) {
        guard d.count == 32 else { throw StoreError(.invalidInput, "\(field) is \(d.count) bytes; a SHA-256 digest is 32") }
    }

    public static func blob(_ b: [UInt8], _ field: String, max: Int) throws(StoreError) {
        guard !b.isEmpty else { throw StoreError(.invalidInput, "\(field) is empty") }
        guard b.count <= max else { throw StoreError(.oversized, "\(field) is \(b.count) bytes; the limit is \(max)") }
    }

    /// A sealed item is stored only whole: a 16-byte id, a payload within
    /// the limit whose digest is the manifest's, a seal that binds the
    /// manifest. (Signatures are the caller's to verify against pinned keys.)
    public static func items(_ items: [NewItem]) throws(StoreError) {
        try itemShapes(items)
        if let n = firstPayloadMismatch(items[...]) {
            throw StoreError(.invalidInput, "item \(n): the payload is not the one its manifest names")
        }
        if let n = OriginSeal.firstUnbound(claims(items)) {
            throw StoreError(.invalidInput, "item \(n): the origin seal does not bind the manifest")
        }
    }

    /// ``items(_:)`` with its costly parts — hashing every payload, checking
    /// every seal — spread over the machine's cores, the same refusals; and
    /// `prepare` (the back end's encryption and encoding of the rows) run on
    /// each chunk of the batch as soon as that chunk's payloads are checked,
    /// and the `alongside` work meanwhile. Returns what `prepare` made of each
    /// chunk, in order (joining them would copy every row), and what
    /// `alongside` returned.
    ///
    /// Work is cut into more pieces than there are cores (a chunk takes about
    /// a millisecond at 1000 items) so that none waits on an unlucky split.
    public static func itemsConcurrently<Row: Sendable, Extra: Sendable>(
        _ items: [NewItem], chunks: Int = 4, prepare: @escaping @Sendable (ArraySlice<NewItem>) -> [Row],
        alongside: @escaping @Sendable () -> Extra
    ) async throws(StoreError) -> (rows: [[Row]], alongside: Extra) {
        try itemShapes(items)
        typealias Part = ConcurrentCheckPart<Row, Extra>
        let size = (items.count + chunks - 1) / max(1, chunks)
        let bounds = stride(from: 0, to: items.count, by: max(1, size)).map { $0..<min($0 + size, items.count) }
        let parts = await withTaskGroup(of: Part.self) { group in
            // The longest single piece first.
            group.addTask { .seals(OriginSeal.firstUnbound(claims(items))) }
            for (n, range) in bounds.enumerated() {
                group.addTask {
                    let (mismatch, rows) = checkedChunk(items[range], prepare)
                    return .chunk(n, mismatch: mismatch, rows)
                }
            }
            group.addTask { .extra(alongside()) }
            var out: [Part] = []
            for await part in group { out.append(part) }
            return out
        }
        var rows = [[Row]](repeating: [], count: bounds.count)
        var extra: Extra?
        var mismatch: Int?, unbound: Int?
        for part in parts {
            switch part {
            case .chunk(let n, let bad, let r):
                rows[n] = r
                if let bad { mismatch = min(mismatch ?? bad, bad) }
            case .seals(let bad): unbound = bad
            case .extra(let value): extra = value
            }
        }
        if let n = mismatch { throw StoreError(.invalidInput, "item \(n): the payload is not the one its manifest names") }
        if let n = unbound { throw StoreError(.invalidInput, "item \(n): the origin seal does not bind the manifest") }
        return (rows, extra!)
    }

    /// What one piece of ``itemsConcurrently(_:chunks:prepare:alongside:)`` returns.
    enum ConcurrentCheckPart<Row: Sendable, Extra: Sendable>: Sendable {
        case chunk(Int, mismatch: Int?, [Row])
        case seals(Int?)
        case extra(Extra)
    }

    static func checkedChunk<Row>(_ items: ArraySlice<NewItem>, _ prepare: (ArraySlice<NewItem>) -> [Row]) -> (mismatch: Int?, rows: [Row]) {
        if let n = firstPayloadMismatch(items) { return (n, []) }
        return (nil, prepare(items))
    }

    static func claims(_ items: [NewItem]) -> [OriginSeal.Claim] {
        items.map { OriginSeal.Claim(itemDigest: $0.sealed.manifest.digest, originator: $0.sealed.manifest.label.originator, seal: $0.sealed.seal) }
    }

    /// The cheap checks: count, ids, sizes, sources.
    static func itemShapes(_ items: [NewItem]) throws(StoreError) {
        try batch(items.count, "items")
        var ids = Set<ItemKey>(minimumCapacity: items.count)
        var total = 0
        for (n, item) in items.enumerated() {
            let m = item.sealed.manifest
            guard m.itemID.count == 16 else { throw StoreError(.invalidInput, "item \(n): an item id is 16 bytes, not \(m.itemID.count)") }
            guard ids.insert(ItemKey(m.itemID)).inserted else {
                throw StoreError(.duplicate, "item \(n): id \(Hex.encode(m.itemID)) appears twice in the batch")
            }
            guard item.sealed.payload.count <= maximumPayloadBytes else {
                throw StoreError(.oversized, "item \(n): the payload is \(item.sealed.payload.count) bytes; the limit is \(maximumPayloadBytes)")
            }
            if case .received(_, let agreement) = item.source { try text(agreement, "item \(n): agreement", max: 256) }
            try text(m.mediaType, "item \(n): media type", max: 255)
            try instant(item.at, "item \(n): the instant")
            total += item.sealed.payload.count
        }
        guard total <= maximumBatchBytes else {
            throw StoreError(.oversized, "the batch carries \(total) bytes of payload; the limit is \(maximumBatchBytes)")
        }
    }

    /// A 16-byte item id as two words: hashed as two integers, not sixteen bytes.
    struct ItemKey: Hashable {
        let high: UInt64, low: UInt64
        init(_ id: [UInt8]) {
            var h: UInt64 = 0, l: UInt64 = 0
            for i in 0..<8 { h = h << 8 | UInt64(id[i]) }
            for i in 8..<16 { l = l << 8 | UInt64(id[i]) }
            (high, low) = (h, l)
        }
    }

    static func firstPayloadMismatch(_ items: ArraySlice<NewItem>) -> Int? {
        items.indices.first { !items[$0].sealed.manifest.matches(payload: items[$0].sealed.payload) }
    }

    public static func change(_ change: HoldingChange) throws(StoreError) {
        switch change {
        case .reclassified(_, let notice): try blob(notice, "the reclassification notice", max: maximumEvidenceBytes)
        case .destroyed(let certificate): try blob(certificate, "the destruction certificate", max: maximumEvidenceBytes)
        case .compromised(let report), .compromiseReported(let report): try blob(report, "the compromise report", max: maximumEvidenceBytes)
        }
    }

    public static func outbox(_ requests: [OutboxRequest]) throws(StoreError) {
        try batch(requests.count, "outbox requests")
        var seen = Set<[UInt8]>()
        for (n, r) in requests.enumerated() {
            guard r.itemID.count == 16 else { throw StoreError(.invalidInput, "request \(n): an item id is 16 bytes, not \(r.itemID.count)") }
            try text(r.agreement, "request \(n): agreement", max: 256)
            guard r.consents.count <= 64 else { throw StoreError(.oversized, "request \(n): \(r.consents.count) consents; the limit is 64") }
            for c in r.consents { try blob(c, "request \(n): a consent", max: 64 << 10) }
            guard seen.insert(r.itemID + Array(r.peer.code.utf8) + Array(r.agreement.utf8)).inserted else {
                throw StoreError(.duplicate, "request \(n): item \(Hex.encode(r.itemID)) is queued to \(r.peer) twice in the batch")
            }
        }
    }

    public static func claim(owner: String, limit: Int, lease: TimeInterval, now: Date) throws(StoreError) {
        try instant(now, "the claim's instant")
        try instant(now.addingTimeInterval(max(0, min(lease, maximumLease))), "the lease's end")
        try text(owner, "the claim owner", max: 200)
        guard limit > 0, limit <= maximumClaim else { throw StoreError(.invalidInput, "a claim takes 1 to \(maximumClaim) tasks, not \(limit)") }
        guard lease > 0, lease <= maximumLease else { throw StoreError(.invalidInput, "a lease runs 0 to \(Int(maximumLease)) s, not \(lease)") }
    }

    public static func outcome(_ o: OutboxOutcome) throws(StoreError) {
        switch o {
        case .delivered(let receipt): try blob(receipt, "the receipt", max: maximumEvidenceBytes)
        case .retry(let error, let notBefore):
            try text(error, "the error")
            try instant(notBefore, "the retry instant")
        case .refused(let reason): try text(reason, "the reason")
        }
    }

    public static func inbound(_ envelopes: [InboundEnvelope]) throws(StoreError) {
        try batch(envelopes.count, "envelopes")
        for (n, e) in envelopes.enumerated() {
            guard e.linkSequence > 0 else { throw StoreError(.invalidInput, "envelope \(n): link sequence numbers start at 1") }
            try digest(e.digest, "envelope \(n): digest")
            try blob(e.bytes, "envelope \(n)", max: maximumObjectSize)
            try instant(e.at, "envelope \(n): the instant")
        }
    }

    /// A received batch's records: each names one of `entries` ledger
    /// entries, a link sequence number once, and an accepted one an item.
    public static func inbound(_ records: [NewInbound], entries: Int) throws(StoreError) {
        try batch(records.count, "envelopes")
        var seen = Set<String>()
        for (n, r) in records.enumerated() {
            guard r.linkSequence > 0 else { throw StoreError(.invalidInput, "envelope \(n): link sequence numbers start at 1") }
            guard seen.insert("\(r.peer.code)/\(r.linkSequence)").inserted else {
                throw StoreError(.invalidInput, "envelope \(n): \(r.peer) link sequence \(r.linkSequence) appears twice in the batch")
            }
            try digest(r.digest, "envelope \(n): digest")
            try instant(r.at, "envelope \(n): the instant")
            guard (0..<entries).contains(r.ledgerOffset) else {
                throw StoreError(.invalidInput, "envelope \(n): ledger entry \(r.ledgerOffset) is not among the \(entries) recorded")
            }
            switch r.outcome {
            case .accepted(let id): guard id.count == 16 else { throw StoreError(.invalidInput, "envelope \(n): an item id is 16 bytes") }
            case .refused(let reason, let envelope):
                try text(reason, "envelope \(n): the reason")
                try blob(envelope, "envelope \(n)", max: maximumObjectSize)
            }
        }
    }

    public static func statementRequests(_ requests: [StatementRequest]) throws(StoreError) {
        try batch(requests.count, "statements")
        for (n, r) in requests.enumerated() {
            guard (1...StatementBundle.Kind.allCases.count).contains(r.kind) else { throw StoreError(.invalidInput, "statement \(n): unknown kind \(r.kind)") }
            try blob(r.signed, "statement \(n)", max: maximumEvidenceBytes)
            if let id = r.itemID, id.count != 16 { throw StoreError(.invalidInput, "statement \(n): an item id is 16 bytes") }
        }
    }

    public static func peerHead(_ h: PeerHead) throws(StoreError) {
        guard h.size >= 0 else { throw StoreError(.invalidInput, "a tree size is not negative") }
        try blob(h.signed, "the tree head", max: maximumEvidenceBytes)
        try instant(h.at, "the instant")
    }

    public static func settled(_ outcomes: [SettledTask]) throws(StoreError) {
        try batch(outcomes.count, "tasks")
        guard Set(outcomes.map(\.id)).count == outcomes.count else { throw StoreError(.invalidInput, "a task is settled twice in one batch") }
        for o in outcomes { try outcome(o.outcome) }
    }

    public static func consent(_ c: StoredConsent) throws(StoreError) {
        try text(c.id, "the consent's id", max: 200)
        try digest(c.itemDigest, "the consent's item digest")
        try blob(c.signed, "the consent", max: maximumEvidenceBytes)
        try instant(c.expiresAt, "the consent's expiry")
        try instant(c.receivedAt, "the instant the consent was received")
        guard c.holder != c.originator, c.thirdParty != c.originator, c.thirdParty != c.holder else {
            throw StoreError(.invalidInput, "a consent names an originator, a holder and a third party, three parties")
        }
    }

    public static func consentRequest(_ r: ConsentRequestRecord) throws(StoreError) {
        try text(r.id, "the request's id", max: 200)
        guard r.itemID.count == 16 else { throw StoreError(.invalidInput, "the request's item id is 16 bytes") }
        try digest(r.itemDigest, "the request's item digest")
        if let p = r.purpose { try text(p, "the request's purpose", max: 200) }
        try text(r.reason, "the request's reason", max: 2000)
        try instant(r.at, "the request's instant")
        try blob(r.signed, "the request", max: maximumEvidenceBytes)
        guard r.state == .pending, r.answer == nil, r.answeredAt == nil else { throw StoreError(.invalidInput, "a request is recorded pending") }
        guard r.holder != r.originator, r.thirdParty != r.originator, r.thirdParty != r.holder else {
            throw StoreError(.invalidInput, "a request names a holder, an originator and a third party, three parties")
        }
    }

    public static func answer(_ state: ConsentRequestRecord.State, _ answer: String, at: Date) throws(StoreError) {
        guard state != .pending else { throw StoreError(.invalidInput, "an answer grants or denies") }
        try text(answer, "the answer", max: 2000)
        try instant(at, "the answer's instant")
    }

    public static func statements(_ statements: [StoredStatement]) throws(StoreError) {
        try batch(statements.count, "statements")
        for (n, s) in statements.enumerated() {
            try digest(s.digest, "statement \(n): digest")
            try text(s.agreement, "statement \(n): agreement", max: 256)
            try text(s.act, "statement \(n): act", max: 64)
            try blob(s.signed, "statement \(n)", max: maximumEvidenceBytes)
            try instant(s.at, "statement \(n): the instant")
        }
    }

    /// A peer's log never shrinks, and two different tree heads at one size
    /// are evidence of a fork: both are refused, the first head is kept.
    public static func peerTreeHead(_ party: Party, old: Int, oldHead: [UInt8]?, new: Int, newHead: [UInt8]) throws(StoreError) {
        if old > new { throw StoreError(.conflict, "\(party)'s log was at \(old) entries; a tree head of \(new) would shrink it") }
        if old == new, let oldHead, oldHead != newHead {
            throw StoreError(.conflict, "\(party) has shown two different tree heads at size \(new): its log has forked")
        }
    }

    public static func peer(endpoint: String, fingerprint: String) throws(StoreError) {
        try text(endpoint, "the peer endpoint", max: 2048)
        try text(fingerprint, "the peer fingerprint", max: 256)
    }

    /// User names: 1–64 of a–z, 0–9, `.`, `_`, `-`, starting with a letter or digit.
    public static func userName(_ name: String) throws(StoreError) {
        let b = Array(name.utf8)
        func ok(_ c: UInt8) -> Bool { (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) }
        guard (1...64).contains(b.count), ok(b[0]), b.allSatisfy({ ok($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }) else {
            throw StoreError(.invalidInput, "user name \"\(name.prefix(80))\" must be 1–64 of a–z, 0–9, '.', '_', '-', starting with a letter or digit")
        }
    }

    public static func itemID(_ id: [UInt8]) throws(StoreError) {
        guard id.count == 16 else { throw StoreError(.invalidInput, "an item id is 16 bytes, not \(id.count)") }
    }

    public static func user(_ u: UserRecord) throws(StoreError) {
        try userName(u.name)
        try text(u.displayName, "the display name", max: 200)
        if let c = u.clearance {
            try text(c.level, "the clearance level", max: 64)
            try instant(c.expires, "the clearance's expiry")
        }
        try instant(u.createdAt, "the user's creation")
        guard u.categories.count <= 256 else { throw StoreError(.oversized, "\(u.categories.count) categories; the limit is 256") }
        for c in u.categories {
            try text(c, "a category", max: 200)
            guard !c.contains("\n") else { throw StoreError(.invalidInput, "a category contains a line break") }
        }
        if let cred = u.credential { try blob(cred, "the credential", max: 1024) }
        guard u.failedLogins >= 0 else { throw StoreError(.invalidInput, "a count of failed logins cannot be negative") }
        if let l = u.lockedUntil { try instant(l, "the end of the lock-out") }
    }

    public static func token(id: String) throws(StoreError) {
        let b = Array(id.utf8)
        guard (1...64).contains(b.count), b.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x5F }) else {
            throw StoreError(.invalidInput, "token id \"\(id.prefix(80))\" must be 1–64 of A–Z, a–z, 0–9, '-', '_'")
        }
    }

    public static func apiToken(_ t: APITokenRecord) throws(StoreError) {
        try token(id: t.id)
        try userName(t.user)
        try text(t.name, "the token name", max: 200)
        try digest(t.tokenHash, "the token hash")
        guard t.scopes.count <= 32 else { throw StoreError(.oversized, "\(t.scopes.count) scopes; the limit is 32") }
        for s in t.scopes {
            try text(s, "a scope", max: 64)
            guard !s.contains("\n") else { throw StoreError(.invalidInput, "a scope contains a line break") }
        }
        try instant(t.createdAt, "the token's creation")
        if let e = t.expiresAt {
            try instant(e, "the token's expiry")
            guard Instant.milliseconds(e) > Instant.milliseconds(t.createdAt) else {
                throw StoreError(.invalidInput, "the token expires before it is created")
            }
        }
    }

    public static func session(_ s: SessionRecord) throws(StoreError) {
        try digest(s.tokenHash, "the session token hash")
        try userName(s.user)
        try instant(s.createdAt, "the session's creation")
        try instant(s.expiresAt, "the session's expiry")
        // Compared as stored: in milliseconds.
        guard Instant.milliseconds(s.expiresAt) > Instant.milliseconds(s.createdAt) else {
            throw StoreError(.invalidInput, "the session expires before it is created")
        }
    }

    /// Whether a change may be recorded against a holding, and the event it
    /// records: nothing is recorded against a destroyed item.
    public static func event(_ change: HoldingChange, holding h: Holding, manifest: ItemManifest) throws(StoreError) -> (HoldingEvent.Kind, [UInt8]) {
        guard h.status != .destroyed else { throw StoreError(.conflict, "item \(Hex.encode(h.itemID)) was destroyed") }
        switch change {
        case .reclassified(let label, let notice):
            try reclassification(label, of: manifest)
            return (.reclassified, notice)
        case .destroyed(let certificate): return (.destroyed, certificate)
        case .compromised(let report), .compromiseReported(let report): return (.compromised, report)
        }
    }

    /// A claimed task is settled only by its owner.
    public static func settleable(_ state: QueueState, owner: String?, by claimant: String, what: String) throws(StoreError) {
        guard state == .claimed else { throw StoreError(.conflict, "\(what) is \(state.rawValue), not claimed") }
        guard owner == claimant else { throw StoreError(.conflict, "\(what) is claimed by \(owner ?? "nobody"), not \(claimant)") }
    }

    /// An item's row as a store reads it, its origin root decoded: its seal
    /// path stored with it, or (`path` nil) read from the whole seal `tree`
    /// kept for its root.
    public struct StoredRow: Sendable {
        public var holding: Holding
        public var manifest: ItemManifest
        public var root: OriginRoot
        public var index: Int
        public var path: [UInt8]?
        public var tree: [UInt8]?
        public var payload: [UInt8]?

        public init(holding: Holding, manifest: ItemManifest, root: OriginRoot, index: Int, path: [UInt8]?, tree: [UInt8]?, payload: [UInt8]?) {
            (self.holding, self.manifest, self.root, self.index, self.path, self.tree, self.payload) = (holding, manifest, root, index, path, tree, payload)
        }
    }

    /// The items from their stored rows, payloads opened under the node's
    /// storage key. Each seal is checked to bind its manifest and each
    /// payload to match it, so that damage at rest is reported, not
    /// returned. The items of an origin batch read whole (a sender's batch
    /// usually holds whole ones) have their tree computed once, rather than
    /// every item's path on its own.
    public static func storedItems(_ rows: [StoredRow], key: StorageKey) throws(StoreError) -> [StoredItem] {
        // Three passes (seals built, seals bound, payloads opened), each over
        // the items before the first one found damaged so far: the error is
        // about the first damaged item, as if each were checked in turn.
        var seals: [OriginSeal] = []
        seals.reserveCapacity(rows.count)
        var damaged: (index: Int, error: StoreError)?
        for (n, r) in rows.enumerated() {
            let packed: [UInt8]
            do throws(StoreError) {
                if let path = r.path {
                    packed = path
                } else if let tree = r.tree {
                    packed = try SealTree(bytes: tree, count: r.root.count).path(index: r.index)
                } else {
                    throw StoreError(.corrupt, "item \(Hex.encode(r.holding.itemID)) has no stored seal path and its root no seal tree")
                }
                do { seals.append(OriginSeal(root: r.root, index: r.index, path: try AuditPath(packed: packed))) } catch {
                    throw StoreError(.corrupt, "the stored seal path of item \(Hex.encode(r.holding.itemID)): \(error.reason)")
                }
            } catch {
                damaged = (n, error)
                break
            }
        }
        if let bad = OriginSeal.firstUnbound(zip(rows, seals).map { ($0.manifest, $1) }) {
            damaged = (bad, StoreError(.corrupt, "the stored origin seal of item \(Hex.encode(rows[bad].holding.itemID)) does not bind its manifest"))
        }
        var out: [StoredItem] = []
        out.reserveCapacity(rows.count)
        for (n, (r, seal)) in zip(rows, seals).enumerated() {
            if let d = damaged, n >= d.index { throw d.error }
            var plain: [UInt8]?
            if let payload = r.payload {
                do { plain = try key.open(payload, itemID: r.holding.itemID) } catch { throw StoreError(.corrupt, error.reason) }
                guard r.manifest.matches(payload: plain!) else {
                    throw StoreError(.corrupt, "the stored payload of item \(Hex.encode(r.holding.itemID)) is not the one its manifest names")
                }
            }
            out.append(StoredItem(manifest: r.manifest, seal: seal, payload: plain, holding: r.holding))
        }
        if let d = damaged { throw d.error }
        return out
    }

    /// The origin roots (by digest, as ``originRoots(_:)`` names them) whose
    /// every item is in the batch, each index once: the item positions in
    /// seal order.
    public static func wholeSealGroups(_ itemRoots: [[UInt8]], items: [NewItem]) -> [[UInt8]: [Int]] {
        guard !itemRoots.isEmpty else { return [:] }
        var members: [[UInt8]: [Int]] = [:]
        var runStart = 0
        for n in 1...itemRoots.count where n == itemRoots.count || itemRoots[n] != itemRoots[runStart] {
            members[itemRoots[runStart], default: []].append(contentsOf: runStart..<n)
            runStart = n
        }
        var whole: [[UInt8]: [Int]] = [:]
        for (digest, positions) in members {
            let count = items[positions[0]].sealed.seal.root.count
            guard positions.count == count else { continue }
            var byIndex = [Int](repeating: -1, count: count)
            for n in positions {
                let i = items[n].sealed.seal.index
                guard i >= 0, i < count, byIndex[i] < 0 else { break }
                byIndex[i] = n
            }
            if !byIndex.contains(-1) { whole[digest] = byIndex }
        }
        return whole
    }

    /// The seal trees of the whole groups (see ``wholeSealGroups(_:items:)``).
    public static func sealTrees(_ whole: [[UInt8]: [Int]], items: [NewItem]) -> [[UInt8]: SealTree] {
        whole.mapValues { order in SealTree(itemDigests: order.map { items[$0].sealed.manifest.digest }) }
    }

    /// Both at once.
    public static func wholeSealTrees(_ items: [NewItem], itemRoots: [[UInt8]]) -> [[UInt8]: SealTree] {
        sealTrees(wholeSealGroups(itemRoots, items: items), items: items)
    }

    /// The distinct origin roots of a batch, each encoded and digested
    /// once (items sealed together share one root), and each item's root digest.
    public static func originRoots(_ items: [NewItem]) -> (roots: [(digest: [UInt8], der: [UInt8])], itemRoots: [[UInt8]]) {
        var byMerkleRoot: [[UInt8]: [(root: OriginRoot, digest: [UInt8])]] = [:]
        var roots: [(digest: [UInt8], der: [UInt8])] = []
        var itemRoots: [[UInt8]] = []
        itemRoots.reserveCapacity(items.count)
        // Items sealed together arrive together: most share the previous item's root.
        var previous: (root: OriginRoot, digest: [UInt8])?
        for item in items {
            let root = item.sealed.seal.root
            if let previous, previous.root == root {
                itemRoots.append(previous.digest)
                continue
            }
            if let known = byMerkleRoot[root.root]?.first(where: { $0.root == root }) {
                itemRoots.append(known.digest)
                previous = known
                continue
            }
            let der = root.derBytes
            let digest = root.digest
            previous = (root, digest)
            byMerkleRoot[root.root, default: []].append((root, digest))
            roots.append((digest, der))
            itemRoots.append(digest)
        }
        return (roots, itemRoots)
    }

    // MARK: Column encodings

    /// A list of byte strings in one column: each as a 4-byte big-endian length and its bytes.
    public static func pack(_ parts: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        for p in parts {
            let n = UInt32(p.count)
            out += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            out += p
        }
        return out
    }

    public static func unpack(_ b: [UInt8]) throws(StoreError) -> [[UInt8]] {
        var out: [[UInt8]] = [], i = 0
        while i < b.count {
            guard i + 4 <= b.count else { throw StoreError(.corrupt, "a packed list is truncated") }
            let n = Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
            i += 4
            guard i + n <= b.count else { throw StoreError(.corrupt, "a packed list is truncated") }
            out.append(Array(b[i..<(i + n)]))
            i += n
        }
        return out
    }

    /// A set of strings in one column, sorted, one per line.
    public static func lines(_ s: some Collection<String>) -> String { s.sorted().joined(separator: "\n") }
    public static func set(_ s: String) -> Set<String> { s.isEmpty ? [] : Set(s.split(separator: "\n").map(String.init)) }

    public static func roles(_ s: String) throws(StoreError) -> Set<Role> {
        var out = Set<Role>()
        for r in set(s) {
            guard let role = Role(rawValue: r) else { throw StoreError(.corrupt, "unknown stored role \(r)") }
            out.insert(role)
        }
        return out
    }

    public static func party(_ s: String) throws(StoreError) -> Party {
        guard let p = Party(s) else { throw StoreError(.corrupt, "stored party \(s) is not a party code") }
        return p
    }

    public static func source(party: String?, agreement: String?) throws(StoreError) -> ItemSource {
        guard let party, let agreement else { return .originated }
        return .received(from: try self.party(party), agreement: agreement)
    }

    public static func decode<T: CanonicalValue>(_ bytes: [UInt8], _ what: String) throws(StoreError) -> T {
        do { return try T(canonical: bytes) } catch {
            throw StoreError(.corrupt, "stored \(what) does not decode: \(error.reason)")
        }
    }

    /// The label a holding shows: the latest reclassification, else the manifest's.
    public static func label(manifest: ItemManifest, current: [UInt8]?) throws(StoreError) -> SecurityLabel {
        guard let current else { return manifest.label }
        let doc: LabelDocument = try decode(current, "label")
        return doc.label
    }

    public static func reclassification(_ label: SecurityLabel, of manifest: ItemManifest) throws(StoreError) {
        guard label.originator == manifest.label.originator else {
            throw StoreError(.invalidInput, "a reclassification keeps the originator (\(manifest.label.originator)), not \(label.originator)")
        }
    }

    /// Kept consents in the order both stores list them: oldest first, then by originator and id.
    public static func oldestFirst(_ consents: [StoredConsent]) -> [StoredConsent] {
        consents.sorted { ($0.receivedAt, $0.originator.code, $0.id) < ($1.receivedAt, $1.originator.code, $1.id) }
    }
}

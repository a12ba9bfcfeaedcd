internal import Foundation
public import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import Logging
internal import Synchronization

extension Federation {
    /// What one pass of a sender did.
    public enum SendResult: Hashable, Sendable {
        /// Nothing was due.
        case idle
        /// Envelopes sent: how many were delivered, refused, or left for a retry.
        case sent(delivered: Int, refused: Int, retrying: Int)
        /// Exchange with the peer is stopped by an alarm.
        case stopped(String)
    }

    /// Claims the peer's due tasks, checks each release again now
    /// (invariant 1), seals them in one batch per agreement, sends it, and
    /// settles every task from the peer's verified reply: delivered with its
    /// receipt, refused with the peer's reason, or back to the queue with a
    /// backoff. Both sides' ledgers record each outcome. The settlement's
    /// entries are not signed one by one: each receipt is proven by the
    /// peer's signed head, and the next checkpoint (each second) signs a
    /// head over this node's own entries, as for releases.
    public func sendOnce(to peer: Party, over transport: any PeerTransport) async throws(FederationError) -> SendResult {
        let started = ContinuousClock.now
        let record = try await storeCall { () throws(StoreError) in try await store.peer(peer) }
        if let alarm = alarm(of: peer, stored: record.alarm) { return .stopped(alarm) }
        let now = clock()
        let claimed = try await storeCall { () throws(StoreError) in
            try await store.claimOutbox(peer: peer, owner: owner, limit: configuration.batchSize, now: now, lease: configuration.lease)
        }
        guard !claimed.isEmpty else { return .idle }
        timed(.claim, peer, since: started)
        let reading = ContinuousClock.now
        var delivered = 0, refused = 0, retrying = 0
        var settled: [SettledTask] = []
        var entries: [LedgerEntry] = []
        var heads: [PeerHead] = []
        // The items, read in one snapshot; if one of them cannot be read
        // (damaged at rest), each on its own, so that it alone is refused.
        var loaded: [(OutboxTask, StoredItem)] = []
        do {
            loaded = Array(zip(claimed, try await store.items(claimed.map(\.itemID))))
        } catch {
            for task in claimed {
                do { loaded.append((task, try await store.item(task.itemID))) } catch {
                    if error.code == .unavailable {
                        settled.append(SettledTask(id: task.id, outcome: .retry(error: "the store failed: \(error.reason)", notBefore: backoff(attempts: task.attempts, from: now))))
                        retrying += 1
                        continue
                    }
                    let reason = "the item cannot be read: \(error.reason)"
                    settled.append(SettledTask(id: task.id, outcome: .refused(reason: PeerText.clean(reason))))
                    entries.append(
                        LedgerEntry(
                            kind: .itemRefused, at: now, party: peer, subjects: [],
                            detail: PeerText.clean("\(Self.linkText(agreement: task.agreement, sequence: Int(task.linkSequence))) not sent: \(reason)")))
                    refused += 1
                }
            }
        }
        timed(.read, peer, since: reading)
        // A batch stays well under the receiver's body limit: what does not
        // fit goes back to the queue, due at once.
        var bytes = 0
        var tasks: [(OutboxTask, StoredItem)] = []
        for (task, item) in loaded {
            bytes += (item.payload?.count ?? 0) + 2048
            if bytes > Self.maximumBatchBytes, !tasks.isEmpty {
                settled.append(SettledTask(id: task.id, outcome: .retry(error: "the next batch", notBefore: now)))
                continue
            }
            tasks.append((task, item))
        }
        // The seal step includes checking every release again.
        var sealingSince = ContinuousClock.now
        var groups: [String: [(OutboxTask, StoredItem, [Signed<ConsentBody>])]] = [:]
        var memo = DecisionMemo()
        for (task, item) in tasks {
            let digest = item.manifest.digest
            let consents = task.consents.compactMap { try? Signed<ConsentBody>(canonical: $0) }
            let label = item.holding.label
            let decision: Decision =
                consents.count != task.consents.count
                ? .refuse(.consentInvalid, .thirdParty, "a queued consent does not decode")
                : item.payload == nil
                    ? .refuse(.invalidInState, .lifecycle, "the item was destroyed after it was queued")
                    : consents.isEmpty
                        ? memo.decision(label, peer, task.agreement) { releaseDecision(label: label, digest: digest, to: peer, agreement: task.agreement, consents: [], at: now) }
                        : releaseDecision(label: label, digest: digest, to: peer, agreement: task.agreement, consents: consents, at: now)
            if case .refused(let r) = decision {
                settled.append(SettledTask(id: task.id, outcome: .refused(reason: r.description)))
                entries.append(
                    LedgerEntry(
                        kind: .itemRefused, at: now, party: peer, subjects: [digest],
                        detail: "\(Self.linkText(agreement: task.agreement, sequence: Int(task.linkSequence))) not sent: \(r.description)"))
                count(refusal: r.code.name)
                refused += 1
                continue
            }
            groups[task.agreement, default: []].append((task, item, consents))
        }
        for (agreementID, group) in groups.sorted(by: { $0.key < $1.key }) {
            let result = await sendGroup(
                group, agreement: agreementID, to: peer, over: transport, at: now, sealingSince: sealingSince, storedSize: record.treeSize)
            sealingSince = ContinuousClock.now
            settled += result.settled
            entries += result.entries
            heads += result.heads
            delivered += result.delivered
            refused += result.refused
            retrying += result.retrying
        }
        let settling = ContinuousClock.now
        _ = try await storeCall { () throws(StoreError) in
            try await store.settleOutbox(
                settled, owner: owner, at: clock(), ledger: LedgerWrite(entries, sign: nil), peerHeads: heads)
        }
        timed(.settle, peer, since: settling)
        let observers = state.withLock {
            $0.sent[peer, default: 0] += delivered
            if delivered + refused > 0 { $0.lastSuccess[peer] = clock() }
            return $0.deliveryObservers
        }
        if !observers.isEmpty {
            let ids = settled.compactMap { if case .delivered = $0.outcome { $0.id } else { nil } }
            let at = clock()
            for o in observers { o(ids, at) }
        }
        return .sent(delivered: delivered, refused: refused, retrying: retrying)
    }

    /// What a sender puts in one batch at most (the receiver takes 64 MiB).
    static let maximumBatchBytes = 32 << 20

    struct GroupResult {
        var heads: [PeerHead] = []
        var settled: [SettledTask] = []
        var entries: [LedgerEntry] = []
        var delivered = 0, refused = 0, retrying = 0
    }

    private func sendGroup(
        _ group: [(OutboxTask, StoredItem, [Signed<ConsentBody>])], agreement agreementID: String, to peer: Party, over transport: any PeerTransport,
        at now: Date, sealingSince sealing: ContinuousClock.Instant, storedSize: Int?
    ) async -> GroupResult {
        var out = GroupResult()
        func retryAll(_ text: String) {
            let error = PeerText.clean(text)
            state.withLock { $0.lastError[peer] = "\(RFC3339.format(clock())): \(error)" }
            logger.warning("sending failed; will retry", metadata: ["liaison.peer": "\(peer)", "liaison.error": "\(error)"])
            for (task, _, _) in group {
                out.settled.append(SettledTask(id: task.id, outcome: .retry(error: error, notBefore: backoff(attempts: task.attempts, from: now))))
                out.retrying += 1
            }
        }
        guard let agreement = book[agreementID]?.agreement else {
            retryAll("no agreement \(agreementID) is known to this node")
            return out
        }
        let bytes: [UInt8]
        do {
            let batch = try signing.sealBatch(
                group.map { Outgoing(item: SealedItem(manifest: $0.1.manifest, seal: $0.1.seal, payload: $0.1.payload!), consents: $0.2) },
                from: party, to: peer, recipientKey: try trust.encryptionKey(of: peer), agreement: agreement,
                sequences: group.map { Int($0.0.linkSequence) }, at: now)
            bytes = batch.derBytes
        } catch {
            retryAll("cannot seal the batch: \(error)")
            return out
        }
        timed(.seal, peer, since: sealing)
        let sending = ContinuousClock.now
        // The largest size of the peer's log verified so far: stored when the
        // round began, or verified since (every head this node stores is
        // verified in memory first). Only a hint for the peer's consistency
        // proof: the check itself reads the stored head again.
        let knownSize = [storedSize, state.withLock { $0.verifiedHeads[peer]?.body.size }].compactMap { $0 }.max()
        let replyBytes: [UInt8]
        do { replyBytes = try await transport.sendBatch(bytes, knownSize: knownSize ?? nil) } catch {
            retryAll(error.reason)
            return out
        }
        timed(.transport, peer, since: sending)
        let verifying = ContinuousClock.now
        defer { timed(.verify, peer, since: verifying) }
        let reply: BatchReply
        do { reply = try BatchReply(canonical: replyBytes) } catch {
            retryAll("\(peer)'s reply does not decode: \(error.reason)")
            return out
        }
        guard reply.receiver == peer else {
            retryAll("the reply is \(reply.receiver)'s, not \(peer)'s")
            return out
        }
        // A head that does not verify, or is not the peer's, is misbehaviour: an alarm.
        let head: TreeHead
        do throws(SealingError) {
            head = try reply.treeHead.verified(by: trust)
            guard head.party == peer else { throw SealingError(.wrongSigner, "the reply's tree head is \(head.party)'s") }
        } catch {
            retryAll((await alarm(peer, "answered a batch with a tree head that does not verify: \(error.reason)")).reason)
            return out
        }
        // The head must be consistent with everything seen of the peer's log (invariant 6).
        // Checked now; kept (and recorded as the latest if it is) in the settlement's write.
        do {
            _ = try await observe(reply.treeHead, verified: head, of: peer, over: transport, latest: false, supplied: reply.consistency, record: false)
        } catch {
            retryAll(error.reason)
            return out
        }
        out.heads.append(PeerHead(party: peer, size: head.size, signed: reply.treeHead.derBytes, at: clock()))
        let outcomes = Dictionary(reply.outcomes.map { ($0.sequence, $0) }, uniquingKeysWith: { a, _ in a })
        // Receipts stored: one entry per batch names every item delivered
        // (each item is proven by its own receipt, kept with its task).
        var delivered: [(digest: [UInt8], link: Int, entry: Int)] = []
        // Each receipt's inclusion under the head; neighbours share their upper steps.
        var inclusions = InclusionBatch(size: head.size, root: head.root)

        for (task, item, _) in group {
            let digest = item.manifest.digest
            let link = Self.linkText(agreement: agreementID, sequence: Int(task.linkSequence))
            guard let o = outcomes[Int(task.linkSequence)], o.itemDigest == digest,
                inclusions.verify(leafHash: MerkleHash.leaf(o.entry), index: o.leafIndex, path: o.path),
                let entry = try? LedgerEntry(canonical: o.entry), entry.party == party, entry.subjects.first == digest,
                entry.detail.hasPrefix(link + " ")
            else {
                let error = PeerText.clean("\(peer)'s reply has no verifiable outcome for \(link)")
                state.withLock { $0.lastError[peer] = "\(RFC3339.format(clock())): \(error)" }
                out.settled.append(SettledTask(id: task.id, outcome: .retry(error: error, notBefore: backoff(attempts: task.attempts, from: now))))
                out.retrying += 1
                continue
            }
            let proof = ReceiptProof(receiver: peer, entry: o.entry, leafIndex: o.leafIndex, path: o.path, treeSize: head.size)
            switch entry.kind {
            case .itemReceived:
                out.settled.append(SettledTask(id: task.id, outcome: .delivered(receipt: proof.derBytes)))
                delivered.append((digest, Int(task.linkSequence), o.leafIndex))
                out.delivered += 1
            case .itemRefused where entry.detail.dropFirst(link.count).drop(while: { $0 == " " }).hasPrefix(Self.refusedNotKeptText):
                // Refused for the batch, not the item (JPN's clock outside the
                // replay window, a batch damaged on the way): not final. Sent
                // again, it is checked afresh; until then it waits, with the
                // peer's reason as its last error.
                let reason = PeerText.clean("\(peer) \(entry.detail.dropFirst(link.count).drop(while: { $0 == " " }))", max: 2000)
                state.withLock { $0.lastError[peer] = "\(RFC3339.format(clock())): \(reason)" }
                out.settled.append(SettledTask(id: task.id, outcome: .retry(error: reason, notBefore: backoff(attempts: task.attempts, from: now))))
                out.retrying += 1
            case .itemRefused:
                let reason = PeerText.clean(entry.detail.dropFirst(link.count).drop(while: { $0 == " " }), max: 2000)
                out.settled.append(SettledTask(id: task.id, outcome: .refused(reason: "\(peer) \(reason)")))
                out.entries.append(
                    LedgerEntry(
                        kind: .itemRefused, at: clock(), party: peer, subjects: [digest],
                        detail: "\(link) \(reason) (by \(peer), entry \(o.leafIndex) of \(head.size))"))
                count(refusal: "refusedByPeer")
                out.refused += 1
            default:
                out.settled.append(
                    SettledTask(
                        id: task.id, outcome: .retry(error: PeerText.clean("\(peer)'s entry for \(link) is a \(entry.kind)"), notBefore: backoff(attempts: task.attempts, from: now))))
                out.retrying += 1
            }
        }
        for chunk in stride(from: 0, to: delivered.count, by: 1500).map({ delivered[$0..<min(delivered.count, $0 + 1500)] }) {
            let links = chunk.map(\.link), entries = chunk.map(\.entry)
            out.entries.append(
                LedgerEntry(
                    kind: .receiptStored, at: clock(), party: peer, subjects: chunk.map(\.digest),
                    detail: "\(agreementID) links \(links.min()!)–\(links.max()!): \(chunk.count) delivered to \(peer), its entries \(entries.min()!)–\(entries.max()!) in its tree of \(head.size)"))
        }
        return out
    }

    /// Exponential backoff with ±50 % jitter, capped.
    func backoff(attempts: Int, from now: Date) -> Date {
        let base = min(configuration.retryCap, configuration.retryBase * pow(2, Double(max(0, min(attempts - 1, 20)))))
        return now.addingTimeInterval(base * Double.random(in: 0.5...1.5))
    }

    /// Runs `pipeline` senders for `peer` until cancelled: each sends as
    /// long as there is work, waits to be woken (or `idlePoll`) when there is none.
    public func runSenders(to peer: Party, over transport: any PeerTransport, stop: @escaping @Sendable () -> Bool = { false }) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, configuration.pipeline) {
                group.addTask {
                    let id = self.wake.subscribe(peer)
                    defer { self.wake.unsubscribe(id) }
                    while !Task.isCancelled && !stop() {
                        var busy = false
                        do {
                            if case .sent = try await self.sendOnce(to: peer, over: transport) { busy = true }
                            if try await self.sendStatementsOnce(to: peer, over: transport) > 0 { busy = true }
                        } catch {
                            self.logger.error("the sender failed", metadata: ["liaison.peer": "\(peer)", "liaison.error": "\(error)"])
                        }
                        if busy { continue }
                        await self.wake.wait(id, timeout: self.configuration.idlePoll)
                    }
                }
            }
        }
    }
}

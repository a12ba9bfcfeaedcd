internal import Crypto
internal import Foundation
internal import LiaisonLedger
public import LiaisonModel
public import LiaisonSealing
internal import LiaisonStore
internal import Logging
internal import Synchronization

extension Federation {
    /// Receives a batch from `peer` (the party its TLS certificate proves):
    /// a full, independent re-check of every envelope (invariant 2) —
    /// pinned keys, both signatures, origin seal, consents, the agreement
    /// at the sealing instant and now, equivalence, releasability, purpose,
    /// replay window — then, in one transaction, the accepted items and the
    /// outcome of every envelope with their ledger entries. A retried
    /// envelope (same link sequence and item) is answered with its first
    /// outcome and stored once (invariant 5). The reply proves each outcome
    /// by its ledger entry's inclusion under this node's signed tree head.
    public func receive(_ bytes: [UInt8], from peer: Party, knownSize: Int? = nil) async throws(FederationError) -> BatchReply {
        let started = ContinuousClock.now
        let now = clock()
        let batch: EnvelopeBatch
        do { batch = try EnvelopeBatch(canonical: bytes) } catch {
            throw await refuseBatch(bytes, from: peer, at: now, FederationError(.malformed, "the batch does not decode: \(error.reason)"))
        }
        let header = batch.header.body
        guard header.from == peer else {
            throw await refuseBatch(
                bytes, from: peer, at: now, FederationError(.wrongPeer, "the batch is sealed by \(header.from), but the connection is \(peer)'s"))
        }
        guard header.to == party else {
            throw await refuseBatch(bytes, from: peer, at: now, FederationError(.wrongPeer, "the batch is addressed to \(header.to), not to \(party)"))
        }
        guard batch.envelopes.count <= configuration.maximumBatch else {
            throw await refuseBatch(
                bytes, from: peer, at: now,
                FederationError(.oversized, "\(batch.envelopes.count) envelopes in one batch; the limit is \(configuration.maximumBatch)"))
        }
        let record = try await storeCall { () throws(StoreError) in try await store.peer(peer) }
        if let alarm = alarm(of: peer, stored: record.alarm) {
            throw FederationError(.alarm, "exchange with \(peer) is stopped until a security officer acknowledges: \(alarm)")
        }
        timed(.decode, peer, since: started)
        // A concurrent delivery of the same sequence numbers (another
        // connection, another replica) loses the race once: read again.
        for attempt in 0..<3 {
            do {
                let (answered, proving) = try await receiveOnce(batch, bytes: bytes, from: peer, at: now)
                var reply = answered
                // The proof that this head extends (or is extended by) the one the sender knows.
                let size = reply.treeHead.body.size
                if let k = knownSize, k > 0, k != size,
                    let proof = try? await store.consistencyProof(old: min(k, size), new: max(k, size))
                {
                    reply.consistency = BatchReply.Consistency(from: min(k, size), to: max(k, size), proof: AuditPath(proof))
                }
                timed(.prove, peer, since: proving)
                return reply
            } catch let e where e.code == .refused && e.reason.hasPrefix(Self.raceMarker) && attempt < 2 {
                continue
            }
        }
        throw FederationError(.unavailable, "the batch could not be recorded")
    }

    static let raceMarker = "race: "

    /// How a refusal's entry begins after its link: one the item itself
    /// earned (answered again on a retry, final at the sender), or one of
    /// the batch (its signature, its instant, its transport) that a batch
    /// sent again is checked afresh for, which the sender retries.
    static let refusedText = "refused:"
    static let refusedNotKeptText = "refused, not kept (send again):"

    /// The reply, and when its proving began (for ``ExchangePhase/prove``).
    private func receiveOnce(_ batch: EnvelopeBatch, bytes: [UInt8], from peer: Party, at now: Date) async throws(FederationError)
        -> (BatchReply, ContinuousClock.Instant)
    {
        let opening = ContinuousClock.now
        let envelopes = batch.envelopes
        let known = try await storeCall { () throws(StoreError) in
            try await store.inboundState(
                peer: peer, sequences: envelopes.map { Int64($0.header.sequence) }, itemIDs: envelopes.map(\.manifest.itemID))
        }
        var opener = EnvelopeOpener(me: party, decryptionKey: decryption, trust: trust, book: book)
        let opened = opener.open(batch)
        timed(.open, peer, since: opening)
        let recording = ContinuousClock.now
        let book = self.book
        var entries: [LedgerEntry] = []
        var records: [NewInbound] = []
        var items: [NewItem] = []
        var held = known.held
        var seen = Set<Int>()
        var memo = DecisionMemo()
        /// Each envelope: a new entry (its offset in `entries`) or an earlier one (its ledger index).
        enum Answer { case new(Int), earlier(Int) }
        var answers: [Answer] = []
        for (i, e) in envelopes.enumerated() {
            let seq = e.header.sequence
            let digest = e.manifest.digest
            let link = "\(Self.linkText(agreement: opened[i].agreementID(batch, book), sequence: seq))"
            /// Refuses the envelope. `keep`: the refusal belongs to the item
            /// (a rule refuses it), so a retry is answered with it; otherwise
            /// it belongs to this batch (its signature, its instant, its
            /// transport) and a fresh batch is checked afresh.
            func refuse(_ text: String, code: String, keep: Bool) {
                let reason = PeerText.clean(text, max: 2000)
                count(refusal: code)
                answers.append(.new(entries.count))
                if keep {
                    records.append(
                        NewInbound(
                            peer: peer, linkSequence: Int64(seq), digest: digest, at: now, outcome: .refused(reason: reason, envelope: e.derBytes),
                            ledgerOffset: entries.count))
                }
                entries.append(
                    LedgerEntry(
                        kind: .itemRefused, at: now, party: peer, subjects: [digest, e.digest],
                        detail: "\(link) \(keep ? Self.refusedText : Self.refusedNotKeptText) \(reason)"))
            }
            guard seq >= 1 else {
                refuse("link sequence numbers start at 1, not \(seq)", code: "malformed", keep: false)
                continue
            }
            if let earlier = known.records[Int64(seq)], earlier.digest == digest {
                if let index = earlier.ledgerIndex {
                    answers.append(.earlier(index))
                } else {
                    // Recorded before receipts kept their entry: answered with a new one.
                    answers.append(.new(entries.count))
                    entries.append(
                        LedgerEntry(
                            kind: earlier.state == .refused ? .itemRefused : .itemReceived, at: now, party: peer, subjects: [digest, e.digest],
                            detail: "\(link) \(earlier.state == .refused ? "refused: \(earlier.reason ?? "refused")" : "accepted, already held")"))
                }
                continue
            }
            if known.records[Int64(seq)] != nil || !seen.insert(seq).inserted {
                // The same link sequence number with another item: a replay or a forgery.
                refuse("link sequence \(seq) already carried another item (replay)", code: "replay", keep: false)
                continue
            }
            let v: VerifiedEnvelope
            switch opened[i] {
            case .failure(let error):
                let reason = error.refusal.map { "\($0.article): \($0.reason)" } ?? "\(error.code): \(error.reason)"
                // The rules' refusals, a bad origin seal or payload under a
                // good batch signature: the item's own. The rest is the batch's.
                let itemOwn = error.refusal != nil || [.originSealInvalid, .payloadDigestMismatch, .consentInvalid, .policyRefused].contains(error.code)
                refuse(reason, code: error.refusal?.code.name ?? error.code.description, keep: itemOwn)
                continue
            case .success(let ok): v = ok
            }
            // The replay window: a captured batch cannot be played back later.
            let skew = now.timeIntervalSince(v.header.at)
            guard abs(skew) <= configuration.replayWindow else {
                refuse(
                    "sealed \(Int(skew)) s from this node's clock; the replay window is ±\(Int(configuration.replayWindow)) s", code: "replayWindow",
                    keep: false)
                continue
            }
            // The agreement now, not only at the sealing instant (invariant 4).
            let request = ReleaseRequest(
                item: ItemFacts(digest: Hex.encode(digest), label: v.manifest.label), holder: peer, recipient: party, agreement: v.agreement,
                instant: now, consents: v.consents)
            let decision =
                v.consents.isEmpty
                ? memo.decision(v.manifest.label, peer, v.agreement) { ReleasePolicy.evaluate(request, book: book) }
                : ReleasePolicy.evaluate(request, book: book)
            if case .refused(let r) = decision {
                refuse("\(r.article): \(r.reason)", code: r.code.name, keep: true)
                continue
            }
            answers.append(.new(entries.count))
            records.append(
                NewInbound(
                    peer: peer, linkSequence: Int64(seq), digest: digest, at: now, outcome: .accepted(itemID: v.manifest.itemID),
                    ledgerOffset: entries.count))
            let already = held.contains(v.manifest.itemID)
            entries.append(
                LedgerEntry(
                    kind: .itemReceived, at: now, party: peer, subjects: [digest, e.digest],
                    detail: "\(link) accepted\(already ? ", already held" : ""), marked \(v.marking.receiverLevel.marking)"))
            if !already {
                held.insert(v.manifest.itemID)
                items.append(NewItem(v.item, source: .received(from: peer, agreement: v.agreement), at: now))
            }
        }
        // Record what is new, with the head signed at its end.
        let proving: ContinuousClock.Instant
        var head: SignedTreeHead
        var size: Int
        var newPaths: [AuditPath] = []
        var firstNew = 0
        if entries.isEmpty {
            guard let latest = try await storeCall({ () throws(StoreError) in try await store.latestTreeHead() }) else {
                throw FederationError(.unavailable, "this node's ledger has no signed tree head")
            }
            (head, size) = (latest, latest.body.size)
            // Every envelope was answered before: nothing to write.
            timed(.record, peer, since: recording)
            proving = ContinuousClock.now
        } else {
            let signed = SignedHeadBox()
            let sign = signer
            let write = LedgerWrite(entries, sign: { size, root in
                let h = try sign(size, root)
                signed.set(h)
                return h
            })
            let receipt: LedgerReceipt
            do {
                if records.isEmpty {
                    receipt = LedgerReceipt(entries: try await store.append(entries, sign: write.sign))
                } else {
                    receipt = try await store.recordInbound(records, items: items, ledger: write)
                }
            } catch {
                if error.code == .duplicate { throw FederationError(.refused, Self.raceMarker + error.reason) }
                logger.error("a received batch was not recorded", metadata: ["liaison.peer": "\(peer)", "liaison.error": "\(error)"])
                throw FederationError(.unavailable, "the batch was not recorded (nothing was accepted): \(error.reason)")
            }
            guard let h = signed.value else { throw FederationError(.unavailable, "no tree head was signed for the batch") }
            timed(.record, peer, since: recording)
            proving = ContinuousClock.now
            (head, size, firstNew) = (h, receipt.entries.upperBound, receipt.entries.lowerBound)
            let frontier = try await storeCall { () throws(StoreError) in try await store.frontier(size: firstNew) }
            do {
                let proofs = try MerkleLog.inclusionProofs(base: firstNew, frontier: frontier, leaves: entries.map(\.leafHash))
                guard proofs.root == head.body.root else { throw FederationError(.unavailable, "the ledger's root does not match its new head") }
                newPaths = proofs.paths.map(AuditPath.init)
            } catch let e as FederationError {
                throw e
            } catch {
                throw FederationError(.unavailable, "the receipts cannot be computed: \(error)")
            }
        }
        var outcomes: [BatchReply.Outcome] = []
        outcomes.reserveCapacity(envelopes.count)
        for (e, answer) in zip(envelopes, answers) {
            switch answer {
            case .new(let offset):
                outcomes.append(
                    BatchReply.Outcome(
                        sequence: e.header.sequence, itemDigest: e.manifest.digest, entry: entries[offset].derBytes, leafIndex: firstNew + offset,
                        path: newPaths[offset]))
            case .earlier(let index):
                let (entry, path) = try await storeCall { () throws(StoreError) in
                    (try await store.entry(at: index), try await store.inclusionProof(index: index, size: size))
                }
                outcomes.append(
                    BatchReply.Outcome(
                        sequence: e.header.sequence, itemDigest: e.manifest.digest, entry: entry.derBytes, leafIndex: index, path: AuditPath(path)))
            }
        }
        state.withLock { $0.received[peer, default: 0] += items.count }
        return (BatchReply(receiver: party, treeHead: head, outcomes: outcomes), proving)
    }

    /// How both sides name an envelope in their ledger entries.
    static func linkText(agreement: String, sequence: Int) -> String { "\(agreement) link \(sequence)" }

    /// Records a refused batch (invariant 8: refused, nothing changed, recorded).
    func refuseBatch(_ bytes: [UInt8], from peer: Party, at now: Date, _ error: FederationError) async -> FederationError {
        count(refusal: error.code.name)
        logger.warning("refused a batch", metadata: ["liaison.peer": "\(peer)", "liaison.reason": "\(error.reason)"])
        let entry = LedgerEntry(kind: .itemRefused, at: now, party: peer, subjects: [Array(SHA256.hash(data: bytes))], detail: "batch refused: \(error.reason)")
        _ = try? await store.append([entry], sign: signer)
        return error
    }
}

extension Result where Success == VerifiedEnvelope, Failure == SealingError {
    /// The agreement an envelope names, for the ledger text (its id when known).
    func agreementID(_ batch: EnvelopeBatch, _ book: AgreementBook) -> String {
        if case .success(let v) = self { return v.agreement }
        let digest = batch.header.body.agreementDigest
        return book.lifecycles.values.first { $0.agreement.digest == digest }?.agreement.id ?? "agreement \(Hex.encode(digest.prefix(8)))"
    }
}

/// Captures the head the store's append signed.
final class SignedHeadBox: Sendable {
    private let head = Mutex<SignedTreeHead?>(nil)
    func set(_ h: SignedTreeHead) { head.withLock { $0 = h } }
    var value: SignedTreeHead? { head.withLock { $0 } }
}

public import LiaisonModel
public import LiaisonSealing
public import LiaisonStore

extension Federation {
    /// Where an item comes from, as an operator checks it: the origin seal
    /// verified with the originator's pinned key, and each delivery's
    /// receipt verified with the receiver's (invariants 5, 6, 7).
    public struct Provenance: Sendable {
        /// `nil` when the originator's seal verifies; else why not.
        public var sealProblem: String?
        public var deliveries: [Delivery]
    }

    public struct Delivery: Sendable {
        public var task: OutboxTask
        /// The consents the release carried (the third-party rule, Art 6).
        public var consents: [Consent]
        /// For a delivered task: the receiver's entry and log size, or why the receipt does not verify.
        public var proof: Result<(entry: Int, treeSize: Int), SealingError>?
    }

    public func provenance(of item: StoredItem) async throws(FederationError) -> Provenance {
        var sealProblem: String?
        do { try item.seal.verify(item.manifest, trust: trust) } catch { sealProblem = error.reason }
        let tasks = try await storeCall { () throws(StoreError) in try await store.outboxTasks(itemID: item.manifest.itemID, before: nil, limit: 100) }
        var deliveries: [Delivery] = []
        for t in tasks {
            let consents = t.consents.compactMap { try? Signed<ConsentBody>(canonical: $0).verified(by: trust).consent }
            var proof: Result<(entry: Int, treeSize: Int), SealingError>?
            if t.state == .done, let bytes = t.receipt {
                proof = await receiptProof(bytes, from: t.peer)
            }
            deliveries.append(Delivery(task: t, consents: consents, proof: proof))
        }
        return Provenance(sealProblem: sealProblem, deliveries: deliveries)
    }

    func receiptProof(_ bytes: [UInt8], from peer: Party) async -> Result<(entry: Int, treeSize: Int), SealingError> {
        do {
            let proof = try ReceiptProof(canonical: bytes)
            guard let headBytes = try? await store.peerTreeHead(peer, size: proof.treeSize) else {
                return .failure(SealingError(.batchPathInvalid, "\(peer)'s tree head of size \(proof.treeSize) is not kept here"))
            }
            try proof.receipt(treeHead: try SignedTreeHead(canonical: headBytes)).verify(trust: trust)
            return .success((proof.leafIndex, proof.treeSize))
        } catch {
            return .failure(error)
        }
    }
}

public import LiaisonModel
public import SwiftASN1

/// The receiver's answer to an ``EnvelopeBatch``: one outcome per envelope,
/// each proven by the inclusion of the receiver's ledger entry in its signed
/// tree head. Nothing in it needs trusting beyond that signature: whether
/// an envelope was accepted or refused, and why, is read from the entry.
///
/// ```asn1
/// BatchReply ::= SEQUENCE { version Version, receiver Party, treeHead SignedTreeHead,
///                           outcomes SEQUENCE OF EnvelopeOutcome,
///                           consistency [0] EXPLICIT Consistency OPTIONAL }
/// Consistency ::= SEQUENCE { from INTEGER, to INTEGER, proof Path }
///   -- between the tree size the sender said it knows and the head's, smaller first
/// EnvelopeOutcome ::= SEQUENCE { sequence INTEGER, itemDigest Digest,
///                                entry OCTET STRING, leafIndex INTEGER, path Path }
/// ```
public struct BatchReply: Hashable, Sendable, CanonicalValue {
    public static let structureName = "BatchReply"

    public struct Outcome: Hashable, Sendable {
        /// The envelope's link sequence number.
        public var sequence: Int
        public var itemDigest: [UInt8]
        /// The receiver's ledger entry for the envelope (its DER).
        public var entry: [UInt8]
        public var leafIndex: Int
        public var path: AuditPath
        public init(sequence: Int, itemDigest: [UInt8], entry: [UInt8], leafIndex: Int, path: AuditPath) {
            (self.sequence, self.itemDigest, self.entry, self.leafIndex, self.path) = (sequence, itemDigest, entry, leafIndex, path)
        }
    }

    /// A consistency proof between two sizes of the receiver's log, so that
    /// the sender checks the head against the one it knew without asking.
    public struct Consistency: Hashable, Sendable {
        public var from: Int
        public var to: Int
        public var proof: AuditPath
        public init(from: Int, to: Int, proof: AuditPath) { (self.from, self.to, self.proof) = (from, to, proof) }
    }

    public var receiver: Party
    public var treeHead: SignedTreeHead
    public var outcomes: [Outcome]
    public var consistency: Consistency?

    public init(receiver: Party, treeHead: SignedTreeHead, outcomes: [Outcome], consistency: Consistency? = nil) {
        (self.receiver, self.treeHead, self.outcomes, self.consistency) = (receiver, treeHead, outcomes, consistency)
    }

    public func encode(into c: inout DERWriter) throws {
        try c.sequence { s in
            s.integer(protocolVersion); s.party(receiver)
            try treeHead.encode(into: &s)
            s.sequence { list in
                for o in outcomes {
                    list.sequence { e in
                        e.integer(o.sequence); e.octets(o.itemDigest); e.octets(o.entry); e.integer(o.leafIndex); e.path(o.path)
                    }
                }
            }
            if let c = consistency {
                s.optional(0) { o in o.sequence { q in q.integer(c.from); q.integer(c.to); q.path(c.proof) } }
            }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let receiver = try r.party()
            let head = try SignedTreeHead(decoding: try r.node())
            let outcomes: [Outcome] = try r.sequence { list in
                var out: [Outcome] = []
                while list.hasMore {
                    out.append(
                        try list.sequence { e in
                            Outcome(
                                sequence: try e.integer(in: 1...Int.max), itemDigest: try e.octets(count: 32), entry: try e.octets(),
                                leafIndex: try e.integer(), path: try e.digestList())
                        })
                }
                return out
            }
            let consistency = try r.optional(0) { n in
                try FieldReader.read(n, Self.structureName) { q in
                    Consistency(from: try q.integer(), to: try q.integer(), proof: try q.digestList())
                }
            }
            return BatchReply(receiver: receiver, treeHead: head, outcomes: outcomes, consistency: consistency)
        }
    }

    /// The delivery receipt of one outcome.
    public func receipt(_ o: Outcome) -> DeliveryReceipt {
        DeliveryReceipt(receiver: receiver, entry: o.entry, leafIndex: o.leafIndex, path: o.path, treeHead: treeHead)
    }
}

/// What a sender keeps per delivered envelope: the receiver's entry and
/// its inclusion proof at a tree size whose signed head the sender keeps
/// once per batch (``DeliveryReceipt`` without the repeated head).
///
/// ```asn1
/// ReceiptProof ::= SEQUENCE { version Version, receiver Party, entry OCTET STRING,
///                             leafIndex INTEGER, path Path, treeSize INTEGER }
/// ```
public struct ReceiptProof: Hashable, Sendable, CanonicalValue {
    public static let structureName = "ReceiptProof"
    public var receiver: Party
    public var entry: [UInt8]
    public var leafIndex: Int
    public var path: AuditPath
    public var treeSize: Int

    public init(receiver: Party, entry: [UInt8], leafIndex: Int, path: AuditPath, treeSize: Int) {
        (self.receiver, self.entry, self.leafIndex, self.path, self.treeSize) = (receiver, entry, leafIndex, path, treeSize)
    }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.party(receiver); s.octets(entry); s.integer(leafIndex); s.path(path); s.integer(treeSize)
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            return ReceiptProof(
                receiver: try r.party(), entry: try r.octets(), leafIndex: try r.integer(), path: try r.digestList(),
                treeSize: try r.integer())
        }
    }

    /// The full receipt, with the receiver's signed tree head at ``treeSize``.
    public func receipt(treeHead: SignedTreeHead) -> DeliveryReceipt {
        DeliveryReceipt(receiver: receiver, entry: entry, leafIndex: leafIndex, path: path, treeHead: treeHead)
    }
}

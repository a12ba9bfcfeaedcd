public import LiaisonModel
public import SwiftASN1

/// Signed statements one node sends another (DESIGN §2): lifecycle
/// statements, consents, reclassification notices, destruction requests
/// and certificates, compromise reports. Each keeps its own signature, so a
/// node passes on a statement it did not make (a hub relays the
/// originator's consent) and every receiver checks it against the signer's
/// pinned key. A statement about an item names the item's id beside its
/// digest (unsigned: the receiver looks the item up by id and checks the
/// digest).
///
/// ```asn1
/// StatementBundle ::= SEQUENCE { version Version, from Party, statements SEQUENCE OF BundledStatement }
/// BundledStatement ::= SEQUENCE { kind ENUMERATED { lifecycle (1), consent (2), reclassification (3),
///                                   destructionRequest (4), destructionCertificate (5), compromiseReport (6) },
///                                 signed OCTET STRING,                  -- DER of the Signed structure
///                                 itemID [0] EXPLICIT OCTET STRING OPTIONAL }
/// ```
public struct StatementBundle: Hashable, Sendable, CanonicalValue {
    public static let structureName = "StatementBundle"

    public enum Kind: Int, Hashable, Sendable, CaseIterable {
        case lifecycle = 1, consent, reclassification, destructionRequest, destructionCertificate, compromiseReport
        case consentRequest, consentDenial
    }

    public struct Statement: Hashable, Sendable {
        public var kind: Kind
        public var signed: [UInt8]
        public var itemID: [UInt8]?
        public init(kind: Kind, signed: [UInt8], itemID: [UInt8]? = nil) { (self.kind, self.signed, self.itemID) = (kind, signed, itemID) }

        public static func lifecycle(_ s: Signed<StatementDocument>) -> Statement { Statement(kind: .lifecycle, signed: s.derBytes) }
        public static func consent(_ s: Signed<ConsentBody>) -> Statement { Statement(kind: .consent, signed: s.derBytes) }
        public static func reclassification(_ s: Signed<ReclassificationNotice>, itemID: [UInt8]) -> Statement {
            Statement(kind: .reclassification, signed: s.derBytes, itemID: itemID)
        }
        public static func destructionRequest(_ s: Signed<DestructionRequest>, itemID: [UInt8]) -> Statement {
            Statement(kind: .destructionRequest, signed: s.derBytes, itemID: itemID)
        }
        public static func destructionCertificate(_ s: Signed<DestructionCertificate>, itemID: [UInt8]) -> Statement {
            Statement(kind: .destructionCertificate, signed: s.derBytes, itemID: itemID)
        }
        public static func compromiseReport(_ s: Signed<CompromiseReport>) -> Statement { Statement(kind: .compromiseReport, signed: s.derBytes) }
        public static func consentRequest(_ s: Signed<ConsentRequestBody>, itemID: [UInt8]) -> Statement {
            Statement(kind: .consentRequest, signed: s.derBytes, itemID: itemID)
        }
        public static func consentDenial(_ s: Signed<ConsentDenialBody>, itemID: [UInt8]) -> Statement {
            Statement(kind: .consentDenial, signed: s.derBytes, itemID: itemID)
        }
    }

    public var from: Party
    public var statements: [Statement]

    public init(from: Party, statements: [Statement]) { (self.from, self.statements) = (from, statements) }

    public func encode(into c: inout DERWriter) throws {
        c.sequence { s in
            s.integer(protocolVersion); s.party(from)
            s.sequence { list in
                for st in statements {
                    list.sequence { e in
                        e.enumerated(st.kind.rawValue); e.octets(st.signed)
                        if let id = st.itemID { e.optional(0) { $0.octets(id) } }
                    }
                }
            }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let from = try r.party()
            let statements: [Statement] = try r.sequence { list in
                var out: [Statement] = []
                while list.hasMore {
                    out.append(
                        try list.sequence { e in
                            let kind = Kind(rawValue: try e.enumerated(in: 1...Kind.allCases.count))!
                            let signed = try e.octets()
                            let id = try e.optional(0) { n in try ASN1OctetString(derEncoded: n).bytes }.map { Array($0) }
                            if let id, id.count != 16 { throw e.fail("an item id is 16 bytes") }
                            return Statement(kind: kind, signed: signed, itemID: id)
                        })
                }
                return out
            }
            return StatementBundle(from: from, statements: statements)
        }
    }
}

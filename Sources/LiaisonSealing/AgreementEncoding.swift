internal import Crypto
internal import Foundation
public import LiaisonModel
public import SwiftASN1

/// The canonical encoding of an agreement, whose SHA-256 — the agreement
/// digest — every envelope and statement exchanged under it carries. Two
/// files that say the same thing (whatever their YAML layout or comments)
/// have the same digest.
public struct AgreementEncoding: Sendable, CanonicalValue {
    public static let structureName = "Agreement"
    public var agreement: Agreement
    public init(_ agreement: Agreement) { self.agreement = agreement }

    public func encode(into c: inout DERWriter) throws {
        let a = agreement
        c.sequence { s in
            s.integer(protocolVersion)
            s.utf8(a.id)
            s.utf8(a.title)
            s.boolean(a.binding)
            s.sequence { ps in
                for p in a.parties {
                    ps.sequence { x in
                        x.party(p.party)
                        x.utf8(p.authority)
                        x.sequence { sc in
                            sc.party(p.scheme.party)
                            sc.utf8(p.scheme.name)
                            sc.sequence { ls in
                                for l in p.scheme.levels {
                                    ls.sequence { y in
                                        y.utf8(l.code); y.utf8(l.marking); y.utf8(l.romanization)
                                        y.utf8(l.gloss); y.integer(l.rank)
                                    }
                                }
                            }
                        }
                        x.sequence { ts in
                            for t in p.trustAnchors { ts.sequence { y in y.utf8(t.kind); y.utf8(t.fingerprint) } }
                        }
                    }
                }
            }
            s.sequence { rs in
                for row in a.equivalence.rows {
                    rs.sequence { x in
                        x.utf8(row.tier)
                        x.sequence { ls in
                            for (party, codes) in row.levels.sorted(by: { $0.key < $1.key }) {
                                ls.sequence { y in y.party(party); y.utf8List(codes) }
                            }
                        }
                    }
                }
            }
            s.sequence { t in
                t.utf8(a.term.renewal.rawValue)
                t.integer(a.term.years)
                t.integer(a.term.noticePeriodDays)
                t.utf8(a.term.timeZone.identifier)
            }
            s.utf8(a.thirdPartyRule.rawValue)
            s.sequence { ps in for p in a.purposes { ps.sequence { y in y.utf8(p.code); y.utf8(p.description) } } }
            if let hub = a.hub {
                s.optional(0) { h in
                    h.sequence { y in
                        y.party(hub.hub)
                        y.sequence { rs in for r in hub.routes { rs.sequence { z in z.party(r.from); z.party(r.to) } } }
                    }
                }
            }
            s.utf8List(a.basedOn)
            s.utf8(a.suite.rawValue)
        }
    }

    /// Agreements are read from their YAML files; the encoding is only
    /// produced, never parsed, so decoding is refused.
    public init(decoding node: ASN1Node) throws {
        throw SealingError(.malformed, "agreements are exchanged as documents, not decoded from DER")
    }
}

extension Agreement {
    /// SHA-256 of the canonical encoding: what envelopes carry.
    public var digest: [UInt8] { SHA256.bytes(AgreementEncoding(self).derBytes) }
}

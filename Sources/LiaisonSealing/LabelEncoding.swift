internal import Foundation
public import LiaisonModel
public import SwiftASN1

/// The canonical encoding of a security label (DESIGN §2, STANAG 4774 in
/// spirit): releasability and category values sorted and unique, categories
/// sorted by tag.
public struct LabelDocument: Hashable, Sendable, CanonicalValue {
    public static let structureName = "SecurityLabel"
    public var label: SecurityLabel

    public init(_ label: SecurityLabel) { self.label = label }

    static func kindValue(_ k: LiaisonModel.Category.Kind) -> Int {
        switch k {
        case .permissive: 1
        case .restrictive: 2
        case .informative: 3
        }
    }

    public func encode(into c: inout DER.Serializer) throws {
        try c.sequence { s in
            try s.integer(protocolVersion)
            try s.utf8(label.policy)
            try s.party(label.originator)
            try s.utf8(label.level)
            try s.sequence { r in for p in label.releasableTo.sorted() { try r.party(p) } }
            try s.sequence { cs in
                for cat in label.categories.sorted(by: { $0.tag < $1.tag }) {
                    try cs.sequence { x in
                        try x.utf8(cat.tag)
                        try x.enumerated(Self.kindValue(cat.kind))
                        try x.utf8List(Array(Set(cat.values)).sorted())
                    }
                }
            }
            if let p = label.purpose { try s.optional(0) { try $0.utf8(p) } }
            try s.instant(label.created)
            if let r = label.review { try s.optional(1) { try $0.instant(r) } }
        }
    }

    public init(decoding node: ASN1Node) throws {
        self = try FieldReader.read(node, Self.structureName) { r in
            try r.version()
            let policy = try r.utf8()
            let originator = try r.party()
            let level = try r.utf8()
            let releasable: [Party] = try r.sequence { x in
                var out: [Party] = []
                while x.hasMore { out.append(try x.party()) }
                return out
            }
            let categories: [LiaisonModel.Category] = try r.sequence { cs in
                var out: [LiaisonModel.Category] = []
                while cs.hasMore {
                    out.append(
                        try cs.sequence { x in
                            let tag = try x.utf8()
                            let kind: LiaisonModel.Category.Kind = [.permissive, .restrictive, .informative][try x.enumerated(in: 1...3) - 1]
                            return LiaisonModel.Category(tag: tag, kind: kind, values: try x.utf8List())
                        })
                }
                return out
            }
            let purpose = try r.optional(0) { n in try FieldReader.utf8(n) }
            let created = try r.instant()
            let review = try r.optional(1) { n in try FieldReader.instant(n) }
            do {
                let label = try SecurityLabel(
                    policy: policy, originator: originator, level: level, releasableTo: Set(releasable),
                    categories: categories, purpose: purpose, created: created, review: review)
                // The label type drops the originator from its own list; a
                // list that named it is not canonical.
                guard label.releasableTo.count == releasable.count else {
                    throw SealingError(.nonCanonical, "the label lists its originator as releasable")
                }
                return LabelDocument(label)
            } catch let e as ModelError {
                throw SealingError(.invalidLabel, e.reason)
            }
        }
    }
}

extension FieldReader {
    /// A UTF8String node (the content of an explicit tag).
    static func utf8(_ node: ASN1Node) throws -> String {
        let s = try ASN1UTF8String(derEncoded: node)
        guard let text = String(validating: s.bytes, as: UTF8.self) else {
            throw SealingError(.malformed, "a string is not valid UTF-8")
        }
        return text
    }

    /// An instant node (the content of an explicit tag).
    static func instant(_ node: ASN1Node) throws -> Date { Instant.date(try Int64(derEncoded: node)) }
}

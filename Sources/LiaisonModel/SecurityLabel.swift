public import Foundation

/// A STANAG 4774 category: a tag with values, typed by how it restricts access.
public struct Category: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// The reader must hold at least one of the values (e.g. a community list).
        case permissive = "PERMISSIVE"
        /// The reader must hold every value (compartments, caveats).
        case restrictive = "RESTRICTIVE"
        /// Informs only; no access rule.
        case informative = "INFORMATIVE"
    }

    /// The tag name (`Compartment`, `Caveat`).
    public var tag: String
    public var kind: Kind
    public var values: [String]

    public init(tag: String, kind: Kind, values: [String]) {
        self.tag = tag
        self.kind = kind
        self.values = values
    }
}

/// One value of a category a user is cleared for (need-to-know).
public struct CategoryValue: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public var tag: String
    public var value: String
    public init(tag: String, value: String) {
        self.tag = tag
        self.value = value
    }
    public var description: String { "\(tag):\(value)" }
    public static func < (a: Self, b: Self) -> Bool { (a.tag, a.value) < (b.tag, b.value) }
}

/// The security label of an item (DESIGN §2, STANAG 4774): bound to the
/// payload by the originator's seal; only the originator changes it.
public struct SecurityLabel: Hashable, Sendable {
    /// The policy the label is issued under: an agreement id, or a national
    /// policy (`national:KOR`).
    public var policy: String
    public var originator: Party
    /// A level code of the originator's scheme.
    public var level: String
    /// The parties the originator marks the item releasable to.
    public var releasableTo: Set<Party>
    public var categories: [Category]
    /// The purpose the information is provided for (Art 6(c)).
    public var purpose: String?
    public var created: Date
    public var review: Date?

    /// Builds a label, refusing an empty category, a repeated tag, an
    /// originator in its own releasability list, or a review before creation.
    public init(
        policy: String, originator: Party, level: String, releasableTo: Set<Party>, categories: [Category] = [],
        purpose: String? = nil, created: Date, review: Date? = nil
    ) throws(ModelError) {
        guard !policy.isEmpty else { throw ModelError(.invalidLabel, "a label names its policy") }
        guard !level.isEmpty else { throw ModelError(.invalidLabel, "a label names its level") }
        for (i, c) in categories.enumerated() {
            guard !c.tag.isEmpty, !c.values.isEmpty, !c.values.contains("") else {
                throw ModelError(.invalidLabel, "category \(c.tag.isEmpty ? "(unnamed)" : c.tag) needs a name and at least one value")
            }
            guard !categories[..<i].contains(where: { $0.tag == c.tag }) else {
                throw ModelError(.invalidLabel, "category \(c.tag) appears twice; list all its values once")
            }
        }
        if let review, review < created {
            throw ModelError(.invalidLabel, "the review instant is before the creation instant")
        }
        self.policy = policy
        self.originator = originator
        self.level = level
        self.releasableTo = releasableTo.contains(originator) ? releasableTo.subtracting([originator]) : releasableTo
        self.categories = categories
        self.purpose = purpose
        self.created = created
        self.review = review
    }

    public var restrictive: [Category] { categories.filter { $0.kind == .restrictive } }
    public var permissive: [Category] { categories.filter { $0.kind == .permissive } }
}

/// An originator-signed permission (Art 6(a)) for one holder to release one
/// item, by digest, to one named third party, for a purpose, until an
/// instant. Its signature is checked by the sealing layer; here it is a value.
public struct Consent: Hashable, Sendable {
    public var id: String
    public var originator: Party
    /// Digest of the item (hex), as the origin seal binds it.
    public var itemDigest: String
    public var holder: Party
    public var thirdParty: Party
    public var purpose: String?
    public var issuedAt: Date
    public var expiresAt: Date

    public init(
        id: String, originator: Party, itemDigest: String, holder: Party, thirdParty: Party, purpose: String?,
        issuedAt: Date, expiresAt: Date
    ) {
        self.id = id
        self.originator = originator
        self.itemDigest = itemDigest
        self.holder = holder
        self.thirdParty = thirdParty
        self.purpose = purpose
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }
}

/// What a policy needs to know of an item: its digest and its label.
public struct ItemFacts: Hashable, Sendable {
    public var digest: String
    public var label: SecurityLabel
    public init(digest: String, label: SecurityLabel) {
        self.digest = digest
        self.label = label
    }
}

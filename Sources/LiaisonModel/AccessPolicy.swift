public import Foundation

/// A role at a node. Roles decide what a user may *do*; they never grant
/// access to content (Art 7: rank alone never suffices).
public enum Role: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    case analyst
    case releasingOfficer = "releasing-officer"
    case securityOfficer = "security-officer"
    case auditor
    case administrator

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
}

/// A person at a national node, with their personnel security clearance
/// (PSC) in their own party's scheme and their need-to-know categories.
public struct Reader: Hashable, Sendable {
    public var name: String
    public var party: Party
    /// A level code of the reader's own scheme.
    public var clearance: String
    public var clearanceExpires: Date?
    public var categories: Set<CategoryValue>
    public var roles: Set<Role>
    public var disabled: Bool

    public init(
        name: String, party: Party, clearance: String, clearanceExpires: Date? = nil,
        categories: Set<CategoryValue> = [], roles: Set<Role> = [.analyst], disabled: Bool = false
    ) {
        self.name = name
        self.party = party
        self.clearance = clearance
        self.clearanceExpires = clearanceExpires
        self.categories = categories
        self.roles = roles
        self.disabled = disabled
    }
}

/// May `reader` read `item` at `node`'s node at `instant`?
public struct AccessRequest: Hashable, Sendable {
    public var reader: Reader
    public var item: ItemFacts
    /// The party whose node holds the item and serves the read.
    public var node: Party
    /// The node's own scheme (the reader's clearance is in it).
    public var localScheme: ClassificationScheme
    /// The agreement the item was received under; `nil` for the node's own items.
    public var agreement: Agreement?
    public var instant: Date

    public init(
        reader: Reader, item: ItemFacts, node: Party, localScheme: ClassificationScheme, agreement: Agreement?,
        instant: Date
    ) {
        self.reader = reader
        self.item = item
        self.node = node
        self.localScheme = localScheme
        self.agreement = agreement
        self.instant = instant
    }
}

/// Invariant 3 (Art 7): a read needs a valid PSC at least the local
/// equivalent of the item's level, every RESTRICTIVE category value and one
/// value of each PERMISSIVE category. Termination of the agreement changes
/// nothing here: what was exchanged stays protected (invariant 4).
public enum AccessPolicy {
    public static func evaluate(_ r: AccessRequest) -> Decision {
        Decision.all([
            { identity(r) },
            { clearance(r) },
            { restrictive(r) },
            { permissive(r) },
        ])
    }

    static func identity(_ r: AccessRequest) -> Decision {
        guard r.reader.party == r.node, r.localScheme.party == r.node else {
            return .refuse(.wrongNode, .access, "\(r.reader.name) is cleared by \(r.reader.party) and reads only at \(r.reader.party)'s node")
        }
        guard !r.reader.disabled else {
            return .refuse(.accountDisabled, .access, "the account of \(r.reader.name) is disabled")
        }
        if let e = r.reader.clearanceExpires, r.instant >= e {
            return .refuse(.clearanceExpired, .access, "the clearance of \(r.reader.name) expired at \(RFC3339.format(e))")
        }
        return .permitted
    }

    /// The level of the local scheme an item's level is equivalent to.
    public static func localLevel(of label: SecurityLabel, at node: ClassificationScheme, under agreement: Agreement?)
        -> Result<Level, Refusal>
    {
        if label.originator == node.party {
            guard let l = node.level(label.level) else {
                return .failure(Refusal(.unknownLevel, .equivalence, "\(label.level) is not a level of \(node.party)'s scheme"))
            }
            return .success(l)
        }
        guard let agreement else {
            return .failure(
                Refusal(.noEquivalence, .equivalence, "the item from \(label.originator) was not received under an agreement"))
        }
        return DualMarking.make(agreement: agreement, originator: label.originator, level: label.level, receiver: node.party)
            .map(\.receiverLevel)
    }

    static func clearance(_ r: AccessRequest) -> Decision {
        let needed: Level
        switch localLevel(of: r.item.label, at: r.localScheme, under: r.agreement) {
        case .success(let l): needed = l
        case .failure(let refusal): return .refused(refusal)
        }
        guard let held = r.localScheme.level(r.reader.clearance) else {
            return .refuse(.clearanceTooLow, .access, "\(r.reader.name) holds no clearance in \(r.node)'s scheme")
        }
        guard held.rank >= needed.rank else {
            return .refuse(
                .clearanceTooLow, .access,
                "\(r.reader.name)'s clearance \(held.marking) (\(held.gloss)) is below \(needed.marking) (\(needed.gloss)), the local level of this item")
        }
        return .permitted
    }

    static func restrictive(_ r: AccessRequest) -> Decision {
        for c in r.item.label.restrictive {
            let missing = c.values.filter { !r.reader.categories.contains(CategoryValue(tag: c.tag, value: $0)) }
            if !missing.isEmpty {
                return .refuse(
                    .missingRestrictiveCategory, .access,
                    "\(r.reader.name) lacks the need-to-know \(c.tag): \(missing.joined(separator: ", ")) (restrictive: every value is required)")
            }
        }
        return .permitted
    }

    static func permissive(_ r: AccessRequest) -> Decision {
        for c in r.item.label.permissive
        where !c.values.contains(where: { r.reader.categories.contains(CategoryValue(tag: c.tag, value: $0)) }) {
            return .refuse(
                .missingPermissiveCategory, .access,
                "\(r.reader.name) holds none of \(c.tag): \(c.values.joined(separator: ", ")) (permissive: one value is required)")
        }
        return .permitted
    }
}

/// The agreements a node knows, each with its evaluated lifecycle.
public struct AgreementBook: Sendable {
    public private(set) var lifecycles: [Agreement.ID: AgreementLifecycle]

    public init(_ lifecycles: [AgreementLifecycle] = []) {
        self.lifecycles = Dictionary(lifecycles.map { ($0.agreement.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public subscript(id: Agreement.ID) -> AgreementLifecycle? { lifecycles[id] }

    public mutating func insert(_ lifecycle: AgreementLifecycle) { lifecycles[lifecycle.agreement.id] = lifecycle }

    /// Agreements binding both parties, sorted by id.
    public func agreements(between a: Party, and b: Party) -> [AgreementLifecycle] {
        lifecycles.values.filter { $0.agreement.isParty(a) && $0.agreement.isParty(b) }
            .sorted { $0.agreement.id < $1.agreement.id }
    }
}

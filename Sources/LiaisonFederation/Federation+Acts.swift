public import Foundation
public import LiaisonModel
public import LiaisonSealing
public import LiaisonStore

/// Acts an officer of this node takes, signed with the node's key and sent
/// to the parties they concern: a consent for a holder to pass on one of
/// this node's items (Art 6(a)), a loss or compromise report (Art 17).
extension Federation {
    /// The originator's consent (Art 6(a)): `holder` may release this node's
    /// item to `thirdParty`, for `purpose`, until `expires`. Signed here and
    /// sent to the holder, whose node records it; the hub route (TISA) and
    /// the final recipient check it themselves.
    @discardableResult
    public func grantConsent(
        itemID: [UInt8], holder: Party, thirdParty: Party, purpose: String?, expires: Date, by officer: String
    ) async throws(FederationError) -> (consent: Signed<ConsentBody>, tasks: [StatementTask]) {
        let now = clock()
        let holding = try await storeCall { () throws(StoreError) in try await store.holdings([itemID]) }[0]
        guard holding.originator == party else {
            throw FederationError(
                .refused, "only the originator consents (Art 6(a)); this item is \(holding.originator)'s",
                refusal: Refusal(.notOriginator, .thirdParty, "only \(holding.originator) may consent to passing on its item"))
        }
        guard holder != party, thirdParty != party, holder != thirdParty else {
            throw FederationError(.refused, "a consent names a holder and a third party, two other parties")
        }
        guard expires > now, expires <= now.addingTimeInterval(366 * 86_400) else {
            throw FederationError(.refused, "a consent lasts from now to at most a year")
        }
        guard book.lifecycles.values.contains(where: { $0.agreement.isParty(party) && $0.agreement.isParty(holder) }) else {
            throw FederationError(.refused, "no agreement with \(holder) is known here")
        }
        let consent = Consent(
            id: "\(party.code.lowercased())-consent-\(UUID().uuidString.prefix(8).lowercased())", originator: party, itemDigest: Hex.encode(holding.digest),
            holder: holder, thirdParty: thirdParty, purpose: purpose, issuedAt: now, expiresAt: expires)
        let signed: Signed<ConsentBody>
        do { signed = try Signed(signing: ConsentBody(consent), with: signing) } catch {
            throw FederationError(.unavailable, "the consent cannot be signed: \(error)")
        }
        let entry = LedgerEntry(
            kind: .consentGiven, at: now, party: holder, subjects: [holding.digest],
            detail: "\(consent.id): \(holder) may pass it to \(thirdParty) until \(RFC3339.format(expires)), by \(officer)")
        _ = try await storeCall { () throws(StoreError) in try await store.append([entry], sign: signer) }
        return (signed, try await publish([.consent(signed)], to: [holder]))
    }

    /// A report of loss or compromise of a held item (Art 17), made by a
    /// security officer: signed here, the item marked compromised, the
    /// report sent to the originator at once.
    @discardableResult
    public func reportCompromise(
        itemID: [UInt8], stage: CompromiseReport.Stage, description: String, by officer: String
    ) async throws(FederationError) -> [StatementTask] {
        let text = description.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...2000).contains(text.count) else { throw FederationError(.malformed, "a report describes what happened in 1 to 2000 characters") }
        let holding = try await storeCall { () throws(StoreError) in try await store.holdings([itemID]) }[0]
        let report = CompromiseReport(
            id: "\(party.code.lowercased())-incident-\(UUID().uuidString.prefix(8).lowercased())", reporter: party, originator: holding.originator,
            itemDigests: [holding.digest], stage: stage, at: clock(), description: "\(text) (reported by \(officer))")
        let signed: Signed<CompromiseReport>
        do { signed = try Signed(signing: report, with: signing) } catch {
            throw FederationError(.unavailable, "the report cannot be signed: \(error)")
        }
        return try await reportCompromise(signed, itemID: itemID)
    }
}

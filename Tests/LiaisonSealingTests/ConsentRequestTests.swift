import Foundation
import LiaisonModel
import LiaisonSealing
import LiaisonTesting
import Testing

@Suite("Consent requests and denials on the wire")
struct ConsentRequestEncodingTests {
    @Test func theyRoundTripVerifyAndRefuseWhatTheyMayNotSay() throws {
        let kor = try SigningKey.generate(.classic), jpn = try SigningKey.generate(.classic)
        var trust = TrustStore()
        trust.pin(kor.verifyingKey, of: .kor)
        trust.pin(jpn.verifyingKey, of: .jpn)
        let digest = [UInt8](repeating: 3, count: 32), t0 = Fixtures.at("2026-12-05T10:00:00+09:00")
        let request = ConsentRequestBody(
            id: "kor-consent-request-1", holder: .kor, originator: .jpn, itemDigest: digest, thirdParty: .usa, purpose: "dprk-nuclear-missile", at: t0,
            reason: "the hub's analysts need it")
        let signed = try Signed(signing: request, with: kor)
        let back = try Signed<ConsentRequestBody>(canonical: signed.derBytes)
        #expect(back == signed && back.derBytes == signed.derBytes)
        #expect(try back.verified(by: trust) == request)
        // Signed by the originator instead of the holder: refused.
        #expect(throws: SealingError.self) { _ = try Signed<ConsentRequestBody>(canonical: try Signed(signing: request, with: jpn).derBytes).verified(by: trust) }
        var twoParties = request
        twoParties.thirdParty = .jpn
        #expect(throws: SealingError(.malformed, "")) { _ = try Signed<ConsentRequestBody>(canonical: try Signed(signing: twoParties, with: kor).derBytes) }
        let denial = ConsentDenialBody(
            id: "jpn-consent-denial-1", request: request.id, originator: .jpn, holder: .kor, itemDigest: digest, thirdParty: .usa, at: t0, reason: "not now")
        let signedDenial = try Signed(signing: denial, with: jpn)
        #expect(try Signed<ConsentDenialBody>(canonical: signedDenial.derBytes).verified(by: trust) == denial)
        var bytes = signedDenial.derBytes
        bytes[bytes.count / 3] ^= 0x01
        #expect(throws: SealingError.self) { _ = try Signed<ConsentDenialBody>(canonical: bytes).verified(by: trust) }
    }
}

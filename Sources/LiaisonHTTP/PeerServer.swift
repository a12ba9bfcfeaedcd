internal import Foundation
public import Hummingbird
internal import HTTPTypes
internal import HummingbirdTLS
public import LiaisonFederation
internal import LiaisonModel
public import Logging
public import NIOCore
internal import LiaisonSealing
internal import NIOSSL
internal import SwiftASN1
internal import X509

/// A request on the peer API, with the connection it came on (whose TLS
/// client certificate names the peer).
public struct PeerRequestContext: ChannelRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
    /// A batch of 4096 envelopes of 16 KiB fits; larger bodies are refused while they arrive.
    public var maxUploadSize: Int { 64 << 20 }
}

/// The federation API a node serves to its peers (docs/federation.md), over
/// mutual TLS 1.3: batches in, receipts out, tree heads and consistency
/// proofs for gossip. Bodies are the protocol's canonical DER; errors are
/// RFC 9457 problem details.
public enum PeerAPI {
    public static let der = "application/vnd.liaison.der"
    /// The size of this node's log the sender last verified (a consistency proof from it comes with the reply).
    public static let knownSizeHeader = "Liaison-Known-Tree-Size"

    public static func router(federation: Federation, verifier: PeerVerifier) -> Router<PeerRequestContext> {
        let router = Router(context: PeerRequestContext.self)
        router.add(middleware: UploadGuard())
        router.add(middleware: ProblemMiddleware())
        let v1 = router.group("federation/v1")
        v1.post("batches") { request, context in
            let peer = try await authenticated(context, verifier)
            let known = request.headers[HTTPField.Name(knownSizeHeader)!].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            let reply = try await mapped { () throws(FederationError) in try await federation.receive(Array(buffer: body), from: peer, knownSize: known) }
            return derResponse(reply.derBytes)
        }
        v1.get("tree-head") { _, context in
            _ = try await authenticated(context, verifier)
            return derResponse(try await mapped { () throws(FederationError) in try await federation.latestTreeHead() })
        }
        v1.get("consistency") { request, context in
            _ = try await authenticated(context, verifier)
            guard let from = request.uri.queryParameters.get("from", as: Int.self), let to = request.uri.queryParameters.get("to", as: Int.self),
                from >= 0, to >= from
            else {
                throw HTTPError(.badRequest, message: "consistency takes from and to, sizes with 0 ≤ from ≤ to")
            }
            return derResponse(try await mapped { () throws(FederationError) in try await federation.consistencyProof(from: from, to: to) })
        }
        v1.post("statements") { request, context in
            let peer = try await authenticated(context, verifier)
            let body = try await request.body.collect(upTo: 8 << 20)
            let reply = try await mapped { () throws(FederationError) in try await federation.receiveStatements(Array(buffer: body), from: peer) }
            return derResponse(reply.derBytes)
        }
        return router
    }

    static func derResponse(_ bytes: [UInt8]) -> Response {
        Response(status: .ok, headers: [.contentType: der], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The peer the connection's certificate proves (checked at the handshake; its party read again here).
    static func authenticated(_ context: PeerRequestContext, _ verifier: PeerVerifier) async throws -> Party {
        guard let presented = try? await context.channel.nioSSL_peerCertificate().get(),
            let der = try? presented.toDERBytes(),
            let party = verifier.party(ofDER: der)
        else {
            throw HTTPError(.forbidden, message: "no pinned peer certificate on this connection")
        }
        return party
    }

    static func mapped<T>(_ body: () async throws(FederationError) -> T) async throws -> T {
        do { return try await body() } catch {
            let status: HTTPResponse.Status =
                switch error.code {
                case .malformed: .badRequest
                case .wrongPeer: .forbidden
                case .refused: .unprocessableContent
                case .alarm: .conflict
                case .oversized: .contentTooLarge
                case .notFound: .notFound
                default: .serviceUnavailable
                }
            throw HTTPError(status, message: error.refusal.map { "\($0.article): \($0.reason)" } ?? error.reason)
        }
    }

    /// Serves the peer API on `host:port` (port 0: any free port, reported
    /// to `onRunning`) with mutual TLS; every handshake is checked by
    /// `verifier` and a refused one is logged. A connection whose handshake
    /// has not finished `handshakeDeadline` seconds after it opened is closed.
    public static func application(
        federation: Federation, tls: PeerTLS, verifier: PeerVerifier, host: String, port: Int, logger: Logger,
        handshakeDeadline: Double = 10, onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        let configuration = TLSChannelConfiguration(tlsConfiguration: tls.serverConfiguration()) { presented in
            let certificates = presented.compactMap { try? Certificate(derEncoded: try $0.toDERBytes()) }
            switch await verifier.verify(certificates) {
            case .peer: return .certificateVerified
            case .refused(let why):
                logger.warning("refused a peer at the TLS handshake", metadata: ["liaison.reason": "\(why)"])
                return .failed
            }
        }
        return Application(
            router: router(federation: federation, verifier: verifier),
            server: try .tls(.http1(configuration: .deadlines(handshake: handshakeDeadline, idle: .seconds(120), logger: logger)), configuration: configuration),
            configuration: .init(address: .hostname(host, port: port), serverName: "liaison-\(federation.party)"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

/// Errors as RFC 9457 problem details.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do { return try await next(request, context) } catch let error as HTTPError {
            return problem(error.status, error.body ?? error.status.reasonPhrase)
        } catch let error as any HTTPResponseError {
            return problem(error.status, "\(error.status.reasonPhrase)")
        } catch {
            return problem(.internalServerError, "internal error")
        }
    }

    func problem(_ status: HTTPResponse.Status, _ detail: String) -> Response {
        let object: [String: Any] = ["type": "about:blank", "title": status.reasonPhrase, "status": status.code, "detail": detail]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/problem+json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

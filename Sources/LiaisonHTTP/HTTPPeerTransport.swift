internal import AsyncHTTPClient
public import Foundation
public import LiaisonFederation
public import LiaisonModel
internal import NIOCore
internal import NIOHTTP1
internal import NIOSSL

/// A peer reached over its federation API with mutual TLS: this node's
/// certificate out, only the peer's pinned root trusted in. Requests have
/// deadlines; errors come back as ``FederationError`` with the peer's reason.
public final class HTTPPeerTransport: PeerTransport {
    public let peer: Party
    public let endpoint: String
    let client: HTTPClient
    let timeout: TimeAmount

    public init(peer: Party, endpoint: String, tls: PeerTLS, timeout: TimeInterval = 30) throws(PeerTLS.Failure) {
        self.peer = peer
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: try tls.clientConfiguration(for: peer),
            timeout: .init(connect: .seconds(5), read: .seconds(Int64(timeout))))
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        configuration.httpVersion = .http1Only
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = .seconds(Int64(timeout))
    }

    /// Closes the connections.
    public func shutdown() async {
        try? await client.shutdown()
    }

    func call(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) async throws(FederationError) -> [UInt8] {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: PeerAPI.der)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse, bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw FederationError(.transport, "\(peer) at \(endpoint) cannot be reached: \(error)")
        }
        guard response.status == .ok else {
            let detail = (try? JSONSerialization.jsonObject(with: Data(Array(buffer: bytes))) as? [String: Any])?["detail"] as? String
            let reason = "\(peer) answered \(response.status.code): \(detail ?? response.status.reasonPhrase)"
            switch response.status.code {
            case 409: throw FederationError(.alarm, reason)
            case 422: throw FederationError(.refused, reason)
            case 404: throw FederationError(.notFound, reason)
            default: throw FederationError(.transport, reason)
            }
        }
        return Array(buffer: bytes)
    }

    public func sendBatch(_ batch: [UInt8], knownSize: Int?) async throws(FederationError) -> [UInt8] {
        try await call(.POST, "/federation/v1/batches", body: batch, headers: knownSize.map { [(PeerAPI.knownSizeHeader, String($0))] } ?? [])
    }
    public func treeHead() async throws(FederationError) -> [UInt8] { try await call(.GET, "/federation/v1/tree-head") }
    public func consistencyProof(from old: Int, to new: Int) async throws(FederationError) -> [UInt8] {
        try await call(.GET, "/federation/v1/consistency?from=\(old)&to=\(new)")
    }
    public func sendStatements(_ bundle: [UInt8]) async throws(FederationError) -> [UInt8] {
        try await call(.POST, "/federation/v1/statements", body: bundle)
    }
}

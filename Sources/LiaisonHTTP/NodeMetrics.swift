internal import Foundation
internal import Hummingbird
internal import HTTPTypes
public import LiaisonFederation
public import LiaisonModel
internal import LiaisonStore
internal import NIOCore
public import Prometheus
internal import Synchronization

/// A node's metrics in the Prometheus text format, at `/metrics` (STYLE
/// habit 9): items sent, received and refused by reason, each peer's queue,
/// lag and alarm, the ledger's size, and the latency of every request on
/// the operator surfaces. One registry per node, so that nodes sharing a
/// process (the demo, the tests) keep their figures apart.
public final class NodeMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// What the counters showed at the last scrape (counters only go up: each scrape adds what is new).
    private let seen = Mutex<[String: Double]>([:])

    public init() {}

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "liaison", metricName: metric, unitName: unit, helpText: help)
    }

    /// Raises a counter to `total` (a figure the node keeps itself).
    func count(_ metric: String, _ labels: [(String, String)], total: Double, help: String) {
        let counter = registry.makeCounter(descriptor: Self.name(metric, "total", help), labels: labels)
        let key = metric + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let delta = seen.withLock { s -> Double in
            let d = max(0, total - (s[key] ?? 0))
            s[key] = max(total, s[key] ?? 0)
            return d
        }
        if delta > 0 { counter.increment(by: delta) }
    }

    func gauge(_ metric: String, _ unit: String, _ labels: [(String, String)], _ value: Double, help: String) {
        registry.makeGauge(descriptor: Self.name(metric, unit, help), labels: labels).set(value)
    }

    /// Times a step of an exchange with a peer (``ExchangePhase``), as the
    /// federation reports it: where a slow link's time goes.
    public func record(_ phase: ExchangePhase, with peer: Party, took: Duration) {
        registry.makeDurationHistogram(
            descriptor: Self.name("exchange_phase_duration", "seconds", "Time each step of a batch's exchange took, on the sending and the receiving side."),
            labels: [("peer", peer.code), ("side", phase.side), ("phase", phase.rawValue)], buckets: Self.phaseBuckets
        ).record(took)
    }

    static let phaseBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
    ]

    /// Reads the node's figures and renders every metric.
    func scrape(_ federation: Federation) async throws(OperatorError) -> String {
        let status: [PeerStatus]
        do { status = try await federation.status() } catch { throw OperatorError(error) }
        for p in status {
            let peer = [("peer", p.party.code)]
            count("items_sent", peer, total: Double(p.delivered), help: "Items delivered to the peer, proven by its receipts.")
            count("items_received", peer, total: Double(p.receivedThisRun), help: "Items received from the peer and accepted (since this process started).")
            gauge("peer_queued", "items", peer, Double(p.queued), help: "Items released to the peer and waiting to be sent.")
            gauge("peer_in_flight", "items", peer, Double(p.inFlight), help: "Items sent to the peer, waiting for its receipt.")
            gauge("peer_sync_lag", "seconds", peer, p.lag, help: "Age of the oldest item waiting for the peer.")
            gauge("peer_alarm", "state", peer, p.alarm == nil ? 0 : 1, help: "1 while a fork, rollback or unprovable head stops exchange with the peer.")
            if let size = p.treeSize { gauge("peer_tree", "entries", peer, Double(size), help: "Size of the peer's largest verified tree head.") }
        }
        for (reason, n) in federation.refusalCounts {
            count("items_refused", [("reason", reason)], total: Double(n), help: "Refusals by reason (since this process started).")
        }
        let size: Int
        do { size = try await federation.store.size() } catch { throw OperatorError(error) }
        gauge("ledger_size", "entries", [], Double(size), help: "Entries in this node's ledger.")
        return registry.emitToString()
    }

    /// Times every request, by method, route and status.
    struct Middleware<Context: RequestContext>: RouterMiddleware {
        let metrics: NodeMetrics
        static var buckets: [Duration] {
            [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
             .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)]
        }

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            let start = ContinuousClock.now
            var status = 500
            defer {
                let route = context.endpointPath ?? "unmatched"
                metrics.registry.makeDurationHistogram(
                    descriptor: NodeMetrics.name("http_request_duration", "seconds", "Latency of the operator surfaces' requests."),
                    labels: [("method", request.method.rawValue), ("route", route), ("status", String(status))], buckets: Self.buckets
                ).record(ContinuousClock.now - start)
            }
            let response = try await next(request, context)
            status = response.status.code
            return response
        }
    }
}

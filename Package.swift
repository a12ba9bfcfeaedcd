// swift-tools-version: 6.1
import PackageDescription

/// Strict Swift 6 everywhere (STYLE habit 1).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Liaison",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "liaison", targets: ["liaison"]),
        .library(name: "LiaisonModel", targets: ["LiaisonModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .target(
            name: "LiaisonModel",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        // libxml2, the platform's XML parser (Debian: libxml2-dev), read directly by the
        // STANAG 4774 label reader.
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"]), .brew(["libxml2"])]
        ),
        .target(
            name: "LiaisonSealing",
            dependencies: [
                "LiaisonModel",
                "CLibXML2",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonLedger",
            dependencies: ["LiaisonSealing"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonStore",
            dependencies: ["LiaisonModel", "LiaisonSealing", "LiaisonLedger"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonStoreSQLite",
            dependencies: ["LiaisonStore", "LiaisonLedger", "LiaisonSealing", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonStorePostgres",
            dependencies: [
                "LiaisonStore", "LiaisonLedger", "LiaisonSealing",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonFederation",
            dependencies: [
                "LiaisonModel", "LiaisonSealing", "LiaisonLedger", "LiaisonStore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonHTTP",
            dependencies: [
                "LiaisonModel", "LiaisonSealing", "LiaisonStore", "LiaisonFederation",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonApp",
            dependencies: [
                "LiaisonModel",
                "LiaisonSealing",
                "LiaisonLedger",
                "LiaisonStore",
                "LiaisonStoreSQLite",
                "LiaisonStorePostgres",
                "LiaisonFederation",
                "LiaisonHTTP",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonBench",
            dependencies: [
                "LiaisonApp",
                "LiaisonFederation",
                .product(name: "Logging", package: "swift-log"),
                "LiaisonModel",
                "LiaisonSealing",
                "LiaisonLedger",
                "LiaisonStore",
                "LiaisonStoreSQLite",
                "LiaisonStorePostgres",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/LiaisonBench",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "liaison",
            dependencies: [
                "LiaisonApp",
                "LiaisonBench",
                "LiaisonModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "LiaisonFaults",
            dependencies: [
                "LiaisonApp", "LiaisonFederation", "LiaisonHTTP", "LiaisonModel", "LiaisonSealing", "LiaisonLedger", "LiaisonStore", "LiaisonStoreSQLite",
                "LiaisonStorePostgres", "LiaisonTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            path: "Faults/LiaisonFaults",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "LiaisonFuzz",
            dependencies: ["LiaisonModel", "LiaisonSealing"],
            path: "Fuzz/LiaisonFuzz",
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonTesting",
            dependencies: [
                "LiaisonModel", "LiaisonSealing", "LiaisonLedger", "LiaisonStore", "LiaisonStorePostgres", "LiaisonApp", "LiaisonFederation",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LiaisonModelTests",
            dependencies: [
                "LiaisonModel",
                "LiaisonTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LiaisonSealingTests",
            dependencies: [
                "LiaisonSealing",
                "LiaisonModel",
                "LiaisonTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Vectors")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LiaisonLedgerTests",
            dependencies: [
                "LiaisonLedger",
                "LiaisonSealing",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LiaisonStoreTests",
            dependencies: [
                "LiaisonModel", "LiaisonStore", "LiaisonStoreSQLite", "LiaisonStorePostgres", "LiaisonSealing", "LiaisonLedger", "LiaisonTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LiaisonFederationTests",
            dependencies: [
                "LiaisonFederation", "LiaisonHTTP", "LiaisonApp", "LiaisonModel", "LiaisonSealing", "LiaisonLedger", "LiaisonStore",
                "LiaisonStoreSQLite", "LiaisonTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LiaisonHTTPTests",
            dependencies: [
                "LiaisonHTTP", "LiaisonApp", "LiaisonFederation", "LiaisonModel", "LiaisonSealing", "LiaisonStore", "LiaisonTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LiaisonAppTests",
            dependencies: ["LiaisonApp", "LiaisonModel", "LiaisonSealing", "LiaisonStore", "LiaisonStoreSQLite", "LiaisonTesting"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)

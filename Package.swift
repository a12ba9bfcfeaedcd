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
    ],
    targets: [
        .target(
            name: "LiaisonModel",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonApp",
            dependencies: ["LiaisonModel"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "liaison",
            dependencies: [
                "LiaisonApp",
                "LiaisonModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LiaisonTesting",
            dependencies: ["LiaisonModel", "LiaisonApp"],
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
            name: "LiaisonAppTests",
            dependencies: ["LiaisonApp", "LiaisonModel", "LiaisonTesting"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)

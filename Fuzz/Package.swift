// swift-tools-version: 6.2
// A libFuzzer target for the audience file reader. Kept out of the main package so that its
// sanitizer flags never touch the daemon's own build. Build and run it with `Fuzz/run.sh SECONDS`.
import PackageDescription

let package = Package(
    name: "AudienceSyncFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "tiktok-audience-sync", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "ReaderFuzzer",
            dependencies: ["FuzzerDriver", .product(name: "AudienceReading", package: "tiktok-audience-sync")]
        ),
        // The executable's entry point, in C: it hands over to libFuzzer's driver.
        .target(name: "FuzzerDriver"),
    ]
)

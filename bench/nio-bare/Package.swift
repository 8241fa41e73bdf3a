// swift-tools-version:6.1
// The memory baseline of `make bench`: the smallest NIO HTTP/1 server that serves a fixed
// /metrics body, with the daemon's swift-nio (bench/run.sh copies the daemon's Package.resolved
// here, so both resolve to the same version) and the daemon's event loop setup (one thread),
// built the same way: `swift build -c release --static-swift-stdlib`.
import PackageDescription

let package = Package(
    name: "nio-bare",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2")
    ],
    targets: [
        .executableTarget(
            name: "nio-bare",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        )
    ]
)

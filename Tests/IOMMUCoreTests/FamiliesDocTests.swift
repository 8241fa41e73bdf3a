import IOMMUCore
import Testing

/// docs/families.md is the contract's list of vendors and kinds, made from the descriptors:
/// it cannot drift from the code. UPDATE_GOLDEN=1 rewrites it.
@Suite("docs/families.md")
struct FamiliesDocTests {
    static func render(_ catalog: FamilyCatalog) -> String {
        var out = """
            # IOMMU families

            Generated from each family's `FamilyDescriptor` (`Sources/IOMMUCore/Families/`) by
            `Tests/IOMMUCoreTests/FamiliesDocTests.swift`: do not edit by hand
            (`UPDATE_GOLDEN=1 swift test --filter FamiliesDocTests` rewrites it). The `vendor` and
            `kind` values are the contract's (ARCHITECTURE.md).


            """
        for d in catalog.descriptors {
            out += "## \(d.displayName) — `vendor=\"\(d.vendor.rawValue)\"`\n\n"
            out += "- kinds: " + d.kinds.map { "`\($0.rawValue)`" }.joined(separator: ", ") + "\n"
            if !d.events.isEmpty {
                out += "- events: " + d.events.map { "`\($0.name)`" }.joined(separator: ", ") + "\n"
            }
            if !d.ratelimitedFunctions.isEmpty {
                out +=
                    "- `N callbacks suppressed` of: "
                    + d.ratelimitedFunctions.map { "`\($0)`" }.joined(separator: ", ") + "\n"
            }
            if !d.interrupts.isEmpty {
                out +=
                    "- fault vectors in /proc/interrupts: "
                    + d.interrupts.map { i in
                        if i.namedAfterUnit {
                            let suffix = i.suffix.flatMap { $0.isEmpty ? nil : " + `\($0)`" } ?? ""
                            return "the unit's device name\(suffix) (\(i.vector))"
                        }
                        let name = i.suffix.map { i.prefix + "N" + $0 } ?? i.prefix
                        return "`\(name)` (\(i.vector))"
                    }.joined(separator: ", ") + "\n"
            }
            out += "\n"
        }
        return out
    }

    @Test("docs/families.md matches the descriptors")
    func matches() throws {
        let path = Fixtures.root + "/../../../docs/families.md"
        let actual = Self.render(.standard)
        if getenvString("UPDATE_GOLDEN") == "1" {
            try writeFile(path, actual)
            return
        }
        #expect(readFile(path) == actual, "docs/families.md drifted from the descriptors: UPDATE_GOLDEN=1")
    }
}

import Glibc

func getenvString(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

func writeFile(_ path: String, _ text: String) throws {
    guard let f = fopen(path, "w") else { throw FileWriteError.cannotWrite(path) }
    defer { fclose(f) }
    _ = text.withCString { fputs($0, f) }
}

enum FileWriteError: Error { case cannotWrite(String) }

import XCTest

final class ImagesPlaceholderTests: XCTestCase {}

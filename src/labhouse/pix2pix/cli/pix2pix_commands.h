// The "pix2pix" command group of the labhouse binary:
//   labhouse pix2pix make-pairs --photos DIR --reference FACE --out DIR [--size N]
//   labhouse pix2pix train --pairs DIR --out MODEL [--epochs N] [--size N] [--resume] ...
// make-pairs turns a folder of photos into pix2pix training pairs (A = the aligned face crop,
// B = the same crop after the classic face swap, side by side as in the reference's aligned
// dataset); train distils them into a generator for the "pix2pix" backend.
#pragma once

namespace CLI {
class App;
}

namespace labhouse::pix2pix {

// Adds the "pix2pix" subcommand (with "train" and "make-pairs") to `app`. The commands print
// progress to stderr. On bad input they print "error: ..." to stderr and throw
// CLI::RuntimeError(1), so the caller's usual `catch (const CLI::ParseError& e) { return
// app.exit(e); }` exits non-zero.
void AddPix2PixCommands(CLI::App& app);

}  // namespace labhouse::pix2pix

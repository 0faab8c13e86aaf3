/* The ledger: a signed, hash-chained log of everything that happens in the
 * federation, and the Raft log that consensus replicates.
 *
 *   ledger/base.h    limits, error codes, CRC32C, hex
 *   ledger/entry.h   entry format, codec, hash; membership payloads (pure)
 *   ledger/sign.h    node keys, checkpoints, cosignatures, notarization,
 *                    equivocation evidence (pure but for the key file)
 *   ledger/store.h   segment files, recovery, group commit, truncation, reads
 *   ledger/verify.h  offline verification (chimeractl ledger verify)
 *
 * Public names start with ledger_; ledger/internal.h is not public. */
#ifndef CHIMERA_LEDGER_H
#define CHIMERA_LEDGER_H

#include "ledger/base.h"
#include "ledger/entry.h"
#include "ledger/sign.h"
#include "ledger/store.h"
#include "ledger/verify.h"

#endif

/* What test_stop_wedged_nng sends and nng_wedge.c waits for. */
#ifndef CHIMERA_NNG_WEDGE_H
#define CHIMERA_NNG_WEDGE_H

#define WEDGE_LEN 49374u /* the frame's announced length: more than is ever sent */
#define WEDGE_MARK "chimera-nng-wedge"

#endif

/*
 * Leak canary: deliberately drops a string dxforge allocated. scripts/test-c.sh
 * expects the leak checker to FAIL this program, which proves that the checker
 * sees allocations made inside libdxforge (so its silence on the real tests
 * means something).
 */
#include <stdio.h>

#include "dxforge.h"

int main(void) {
    DxForge *forge = NULL;
    char *root = NULL;
    if (dxforge_open("/", &forge) != DXFORGE_OK || dxforge_root(forge, &root) != DXFORGE_OK) {
        fprintf(stderr, "setup failed: %s\n", dxforge_last_error_message());
        return 2;
    }
    root = NULL; /* the leak */
    dxforge_free(forge);
    return 0;
}

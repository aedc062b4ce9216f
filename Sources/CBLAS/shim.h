#include <cblas.h>
/* OpenBLAS's own thread control (not part of CBLAS proper). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
/* The kernel family OpenBLAS chose for this CPU at load time (OPENBLAS_CORETYPE overrides it). */
char *openblas_get_corename(void);

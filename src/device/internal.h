/* Internal helpers shared by the device model files. */
#ifndef ML_DEVICE_INTERNAL_H
#define ML_DEVICE_INTERNAL_H
#include "memlev/device.h"

void ml_neurosim_to_softbounds(ml_device *d);
double ml_neurosim_maxdev(double a);
/* Messaritaki/Serb exact pulse response in conductance. */
double ml_serb_step(const ml_device *d, double g, double v, double width);
/* Table model mean and std of dG at (g, v, width). */
void ml_table_eval(const ml_dev_table *t, double g, double v, double width, double *mean, double *std);

static inline double ml_clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
#endif

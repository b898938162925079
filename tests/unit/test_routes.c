/* SPDX-License-Identifier: BSD-2-Clause */
#include "test.h"
#include "routes.h"
int main(int argc, char **argv) { return test_main(argc, argv); }

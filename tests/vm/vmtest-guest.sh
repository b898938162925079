#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# In the guest: the vmtest binary on the BPF objects of the initramfs.
exec /bin/vmtest /bpf

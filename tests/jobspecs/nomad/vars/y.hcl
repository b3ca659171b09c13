# Copyright IBM Corp. 2015, 2025
# SPDX-License-Identifier: BUSL-1.1


Y = 700


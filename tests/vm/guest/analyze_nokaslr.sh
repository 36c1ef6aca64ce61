# SPDX-License-Identifier: GPL-2.0
# Analyze suite under nokaslr: the same stuck machine, dumped without KASLR.
ANALYZE_NAME=analyze_nokaslr
. /tests/analyze.sh

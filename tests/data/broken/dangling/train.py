import lib.util

print('training', lib.util.LR)

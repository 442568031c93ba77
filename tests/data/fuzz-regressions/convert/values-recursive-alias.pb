
x"
a: &x [1, *x]
8Bns
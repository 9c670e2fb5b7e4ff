"""What the export and serving tests share: two small labelled data sets, and one exported run of each (made once per
test session by the command line, in conftest.py's fixtures), since each costs a fine-tuning and an export."""
import numpy as np
from PIL import Image

POS = ['a warm and funny film', 'moving and beautifully acted', 'a joy from start to finish', 'smart, tender and wise',
       'the best comedy of the year', 'gorgeous and heartfelt', 'a delight', 'sharp writing and great performances',
       'wonderful', 'i loved every minute']
NEG = ['a dull and lifeless mess', 'boring from start to finish', 'the worst film of the year', 'clumsy and tedious',
       'a waste of a fine cast', 'painfully unfunny', 'a mess', 'flat writing and wooden acting', 'awful', 'i hated it']


def photos(root, n=8):
    "Two classes of noisy photos, reddish and bluish, as JPEGs of 160 x 120."
    rng = np.random.default_rng(0)
    for c, tint in (('red', (200, 40, 40)), ('blue', (40, 40, 200))):
        (root/c).mkdir(parents=True)
        for i in range(n):
            a = np.clip(rng.normal(tint, 40, (120, 160, 3)), 0, 255).astype('uint8')
            Image.fromarray(a).save(root/c/f'{i}.jpg', quality=90)
    return root


def reviews_csv(path):
    "The labelled sentences above as a practitioner's CSV file."
    path.write_text('text,label\n' + '\n'.join(f'{t},pos' for t in POS) + '\n' + '\n'.join(f'{t},neg' for t in NEG) + '\n')
    return path
